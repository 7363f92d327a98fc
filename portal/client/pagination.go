package client

import (
	"context"
	"encoding/json"
	"iter"
	"net/url"
	"strconv"
)

// ListOptions selects one page of a list: Cursor is the NextCursor of the
// page before (empty for the first page) and Limit the page size (1–100;
// 0 lets the server choose, 20 today).
type ListOptions struct {
	Cursor string
	Limit  int
}

func (o ListOptions) query() url.Values {
	q := url.Values{}
	if o.Cursor != "" {
		q.Set("cursor", o.Cursor)
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	return q
}

// Page is one page of a list. NextCursor is empty on the last page.
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// MarshalJSON writes the page as the API does: next_cursor is null on the
// last page.
func (p Page[T]) MarshalJSON() ([]byte, error) {
	w := struct {
		Items      []T     `json:"items"`
		NextCursor *string `json:"next_cursor"`
	}{Items: p.Items}
	if w.Items == nil {
		w.Items = []T{}
	}
	if p.NextCursor != "" {
		w.NextCursor = &p.NextCursor
	}
	return json.Marshal(w)
}

// UnmarshalJSON accepts next_cursor as a string or null.
func (p *Page[T]) UnmarshalJSON(b []byte) error {
	var w struct {
		Items      []T     `json:"items"`
		NextCursor *string `json:"next_cursor"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	p.Items, p.NextCursor = w.Items, ""
	if w.NextCursor != nil {
		p.NextCursor = *w.NextCursor
	}
	return nil
}

// ListFunc fetches one page; the paginated methods of Client fit it once
// their other arguments are bound, as in
//
//	func(ctx context.Context, o client.ListOptions) (*client.Page[client.API], error) {
//		return c.ListAPIs(ctx, "acme", o)
//	}
type ListFunc[T any] func(ctx context.Context, opts ListOptions) (*Page[T], error)

// All iterates over every item of every page, fetching pages as it goes.
// An error ends the iteration after yielding it. A server that hands back
// a cursor it already gave ends the iteration rather than looping.
func All[T any](ctx context.Context, list ListFunc[T]) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		seen := map[string]bool{}
		opts := ListOptions{}
		for {
			p, err := list(ctx, opts)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, it := range p.Items {
				if !yield(it, nil) {
					return
				}
			}
			if p.NextCursor == "" || seen[p.NextCursor] {
				return
			}
			seen[p.NextCursor] = true
			opts.Cursor = p.NextCursor
		}
	}
}

// Collect returns the items of every page.
func Collect[T any](ctx context.Context, list ListFunc[T]) ([]T, error) {
	var out []T
	for it, err := range All(ctx, list) {
		if err != nil {
			return out, err
		}
		out = append(out, it)
	}
	return out, nil
}

// listPage fetches one page of the list at route.
func listPage[T any](ctx context.Context, c *Client, route string, q url.Values, opts ListOptions) (*Page[T], error) {
	if q == nil {
		q = url.Values{}
	}
	for k, v := range opts.query() {
		q[k] = v
	}
	var p Page[T]
	if err := c.do(ctx, request{method: "GET", path: route, query: q, out: &p}); err != nil {
		return nil, err
	}
	return &p, nil
}

// listAll fetches every page of a list the API answers in one page today,
// following next_cursor should it ever paginate.
func listAll[T any](ctx context.Context, c *Client, route string, q url.Values) ([]T, error) {
	items, err := Collect(ctx, func(ctx context.Context, o ListOptions) (*Page[T], error) {
		qq := url.Values{}
		for k, v := range q {
			qq[k] = v
		}
		return listPage[T](ctx, c, route, qq, o)
	})
	if items == nil && err == nil {
		items = []T{}
	}
	return items, err
}
