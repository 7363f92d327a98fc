package manifest

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/portico-dev/portico/portal/client"
)

// State is what the server has of the API a manifest describes: the input
// Diff compares the manifest with.
type State struct {
	// API is nil when the API does not exist yet.
	API *client.API
	// Versions holds, by name, the versions the manifest names that exist.
	Versions map[string]*VersionState
	// Plans holds the latest revision of every plan of the API, by slug.
	Plans map[string]*client.Plan
}

// VersionState is one existing version.
type VersionState struct {
	// Version is the version's detail, with Environments filled.
	Version *client.Version
	// OpenAPI is the draft's OpenAPI document as a JSON value; nil when the
	// version has none or the manifest does not manage it.
	OpenAPI any
}

// Fetch reads the server's state of the API doc describes, in doc.Org.
func Fetch(ctx context.Context, c *client.Client, doc *Document) (*State, error) {
	st := &State{Versions: map[string]*VersionState{}, Plans: map[string]*client.Plan{}}
	api, err := c.GetAPI(ctx, doc.Org, doc.Slug)
	if client.IsNotFound(err) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read API %s: %w", doc.Slug, err)
	}
	st.API = api
	versions, err := c.ListVersions(ctx, doc.Org, doc.Slug)
	if err != nil {
		return nil, fmt.Errorf("list versions: %w", err)
	}
	for _, v := range versions {
		want := doc.version(v.Version)
		if want == nil {
			continue
		}
		detail, err := c.GetVersion(ctx, doc.Org, doc.Slug, v.Version)
		if err != nil {
			return nil, fmt.Errorf("read version %s: %w", v.Version, err)
		}
		vs := &VersionState{Version: detail}
		if want.OpenAPI != nil && detail.HasOpenAPI {
			raw, err := c.VersionOpenAPI(ctx, doc.Org, doc.Slug, v.Version)
			if err != nil && !client.IsNotFound(err) {
				return nil, fmt.Errorf("read the OpenAPI document of %s: %w", v.Version, err)
			}
			if err == nil {
				if err := json.Unmarshal(raw, &vs.OpenAPI); err != nil {
					return nil, fmt.Errorf("read the OpenAPI document of %s: %w", v.Version, err)
				}
			}
		}
		st.Versions[v.Version] = vs
	}
	plans, err := client.Collect(ctx, func(ctx context.Context, o client.ListOptions) (*client.Page[client.Plan], error) {
		o.Limit = 100
		return c.ListPlans(ctx, doc.Org, doc.Slug, o)
	})
	if err != nil {
		return nil, fmt.Errorf("list plans: %w", err)
	}
	for i := range plans {
		st.Plans[plans[i].Slug] = &plans[i]
	}
	return st, nil
}
