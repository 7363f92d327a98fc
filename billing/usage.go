package billing

import (
	"context"
	"database/sql"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/portico-dev/portico/gateway"
	"github.com/portico-dev/portico/tenants"
)

// usageRow is one usage_ledger row: the calls of one subscription to one
// operation in one minute. What every call reads and adds to comes first,
// on the row's first cache line; the columns' order is the migration's.
type usageRow struct {
	// minute is Minute in Unix seconds, for the pending rows' scan.
	minute       int64  `gorm:"-"`
	OperationID  string `gorm:"primaryKey"`
	Calls        int64
	Billable     int64
	Errors       int64
	BytesIn      int64
	BytesOut     int64
	LatencyMsSum int64
	// key and keyAt are the last access key that called, and when: the
	// keys' last use without a lookup per call in the common case of one
	// key per app. take folds them into the batch's last-used times.
	key   string    `gorm:"-"`
	keyAt time.Time `gorm:"-"`

	SubscriptionID string    `gorm:"primaryKey"`
	Minute         time.Time `gorm:"primaryKey"`
	ProviderOrgID  string
	PartnerOrgID   string
	APIID          string `gorm:"column:api_id"`
	Version        string
	AppID          string
}

func (usageRow) TableName() string { return "usage_ledger" }

// subUsage is a subscription's pending rows: one per operation and minute
// it called since the last flush — a few, found by a scan of plain
// comparisons rather than by hashing two IDs on every call (the operation's
// ID is usually the very string of the last call, compared by pointer).
// Past scanLimit rows an index takes over.
type subUsage struct {
	rows []*usageRow
	idx  map[rowKey]*usageRow
}

// pendingSub is a shard's entry for a subscription: the row of its last
// call, which most calls add to again, and all its rows. The gateway's
// MeterSlot for the subscription keeps it at hand, so a call finds it
// without hashing the subscription's ID for the shard and the map: it is
// current while gen is its shard's (take starts a new generation).
type pendingSub struct {
	last *usageRow
	all  *subUsage
	// What checks a slot's entry; set once, before it is shared.
	ledger *Ledger
	shard  *ledgerShard
	gen    uint64
	id     string
}

type rowKey struct {
	op     string
	minute int64
}

const scanLimit = 8

// row returns the pending row of operation op in minute m, or nil.
func (u *subUsage) row(op string, minute int64) *usageRow {
	if u.idx != nil {
		return u.idx[rowKey{op, minute}]
	}
	for i := len(u.rows) - 1; i >= 0; i-- { // the newest minute last
		if r := u.rows[i]; r.minute == minute && r.OperationID == op {
			return r
		}
	}
	return nil
}

// add appends a new pending row.
func (u *subUsage) add(r *usageRow) {
	u.rows = append(u.rows, r)
	switch {
	case u.idx != nil:
		u.idx[rowKey{r.OperationID, r.minute}] = r
	case len(u.rows) > scanLimit:
		u.idx = make(map[rowKey]*usageRow, 2*len(u.rows))
		for _, x := range u.rows {
			u.idx[rowKey{x.OperationID, x.minute}] = x
		}
	}
}

// Ledger aggregates the gateway's usage events in memory and flushes them
// to the usage ledger in batches — at least every FlushInterval and on
// Close — adding to the rows of the same subscription, operation and
// minute, so the ledger counts every metered call exactly once.
type Ledger struct {
	db    *gorm.DB
	log   *slog.Logger
	touch func(ctx context.Context, used map[string]time.Time) error
	// shards hold what is recorded and not yet flushed, by subscription:
	// the gateway's handlers, one per CPU, record at once, and one lock
	// for all of them was contended on every call.
	shards [ledgerShards]ledgerShard
	seed   maphash.Seed // shard's
	stop   chan struct{}
	done   chan struct{}
}

// NewLedger starts a ledger flushing every interval. touch, when set,
// receives each flushed batch's keys and their last use (keys' last-used
// times).
func NewLedger(db *gorm.DB, interval time.Duration, log *slog.Logger, touch func(ctx context.Context, used map[string]time.Time) error) *Ledger {
	if log == nil {
		log = slog.Default()
	}
	l := &Ledger{db: db, log: log, touch: touch, seed: maphash.MakeSeed(), stop: make(chan struct{}), done: make(chan struct{})}
	for i := range l.shards {
		l.shards[i].reset()
	}
	go l.run(interval)
	return l
}

// Record implements gateway.Meter; it never blocks on the database.
func (l *Ledger) Record(e gateway.UsageEvent) {
	sec := e.Time.Unix()
	minute := sec - (sec%60+60)%60 // Unix time has no leap seconds
	var p *pendingSub
	var sh *ledgerShard
	if e.Slot != nil {
		if q, _ := e.Slot.Load().(*pendingSub); q != nil && q.ledger == l && q.id == e.SubscriptionID {
			sh = q.shard
			sh.mu.Lock()
			if q.gen == sh.gen {
				p = q
			}
		}
	}
	if p == nil {
		if sh == nil { // else the slot's shard, which the ID hashes to
			sh = l.shard(e.SubscriptionID)
			sh.mu.Lock()
		}
		p = sh.entry(l, e.SubscriptionID)
		if e.Slot != nil {
			e.Slot.Store(p)
		}
	}
	r := p.last
	if r == nil || r.minute != minute || r.OperationID != e.OperationID {
		if r = p.all.row(e.OperationID, minute); r == nil {
			r = &usageRow{SubscriptionID: e.SubscriptionID, OperationID: e.OperationID, Minute: time.Unix(minute, 0).UTC(), ProviderOrgID: e.ProviderOrgID,
				PartnerOrgID: e.PartnerOrgID, APIID: e.APIID, Version: e.Version, AppID: e.AppID, minute: minute}
			p.all.add(r)
		}
		p.last = r
	}
	r.Calls++
	if e.Billable {
		r.Billable++
	}
	// An answer that broke off after its head failed, whatever its
	// status said.
	if e.Status >= 500 || e.Status == 499 || e.Broken {
		r.Errors++
	}
	if e.BytesIn > 0 {
		r.BytesIn += e.BytesIn
	}
	r.BytesOut += e.BytesOut
	r.LatencyMsSum += e.Latency.Milliseconds()
	switch {
	case r.key == e.AccessKey || r.key == "":
		r.key = e.AccessKey
		if e.Time.After(r.keyAt) {
			r.keyAt = e.Time
		}
	default: // the row's app called with another of its keys
		if t := sh.keysUsed[e.AccessKey]; e.Time.After(t) {
			sh.keysUsed[e.AccessKey] = e.Time
		}
	}
	sh.mu.Unlock()
}

// used adds the last use of the keys of rows to keys.
func used(keys map[string]time.Time, rows []*usageRow) {
	for _, r := range rows {
		if r.key != "" && r.keyAt.After(keys[r.key]) {
			keys[r.key] = r.keyAt
		}
	}
}

// ledgerShards is how many ways the pending usage is split.
const ledgerShards = 16

// ledgerShard is the pending usage of the subscriptions hashed to it,
// and the last use of the keys that called them; a cache line of its own.
type ledgerShard struct {
	mu       sync.Mutex
	pending  map[string]*pendingSub // by subscription
	keysUsed map[string]time.Time
	gen      uint64 // pending's generation, for slots' entries
	_        [32]byte
}

func (sh *ledgerShard) reset() {
	sh.pending, sh.keysUsed = map[string]*pendingSub{}, map[string]time.Time{}
	sh.gen++
}

// entry returns the subscription's pending entry, adding it if need be;
// sh.mu is held.
func (sh *ledgerShard) entry(l *Ledger, id string) *pendingSub {
	p := sh.pending[id]
	if p == nil {
		p = &pendingSub{all: &subUsage{}, ledger: l, shard: sh, gen: sh.gen, id: id}
		sh.pending[id] = p
	}
	return p
}

// shard is the shard a subscription's usage goes to.
func (l *Ledger) shard(subscriptionID string) *ledgerShard {
	return &l.shards[maphash.String(l.seed, subscriptionID)%ledgerShards]
}

// take empties every shard and returns the rows they held and the keys'
// last use.
func (l *Ledger) take() ([]*usageRow, map[string]time.Time) {
	var rows []*usageRow
	var keys map[string]time.Time
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		p, k := sh.pending, sh.keysUsed
		if len(p) == 0 && len(k) == 0 {
			sh.mu.Unlock()
			continue // nothing to take: the shard keeps its maps
		}
		sh.reset()
		sh.mu.Unlock()
		if keys == nil {
			keys = k
		} else {
			for a, t := range k { // a key may call through several subscriptions
				if t.After(keys[a]) {
					keys[a] = t
				}
			}
		}
		for _, ps := range p { // shards hold disjoint subscriptions
			used(keys, ps.all.rows)
			rows = append(rows, ps.all.rows...)
			// A slot may keep the entry until its subscription's next
			// call: not the rows too. No call reads an entry of a past
			// generation.
			ps.last, ps.all = nil, nil
		}
	}
	return rows, keys
}

// putBack returns rows that failed to flush to the shards, adding to what
// was recorded since, so the next flush writes them.
func (l *Ledger) putBack(rows []*usageRow, keys map[string]time.Time) {
	for _, r := range rows {
		sh := l.shard(r.SubscriptionID)
		sh.mu.Lock()
		ps := sh.entry(l, r.SubscriptionID)
		if cur := ps.all.row(r.OperationID, r.minute); cur != nil {
			cur.Calls += r.Calls
			cur.Billable += r.Billable
			cur.Errors += r.Errors
			cur.BytesIn += r.BytesIn
			cur.BytesOut += r.BytesOut
			cur.LatencyMsSum += r.LatencyMsSum
		} else {
			ps.all.add(r)
		}
		sh.mu.Unlock()
	}
	sh := &l.shards[0] // last-used times may go to any shard: take merges them
	sh.mu.Lock()
	for k, t := range keys {
		if t.After(sh.keysUsed[k]) {
			sh.keysUsed[k] = t
		}
	}
	sh.mu.Unlock()
}

func (l *Ledger) run(interval time.Duration) {
	defer close(l.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			if err := l.Flush(context.Background()); err != nil {
				l.log.Error("usage flush failed; will retry", "err", err)
			}
		}
	}
}

// Flush writes what has been recorded. On failure the batch is put back,
// so nothing is lost or counted twice.
func (l *Ledger) Flush(ctx context.Context) error {
	batch, keys := l.take()
	if len(batch) == 0 {
		return nil
	}
	rows := make([]usageRow, 0, len(batch))
	for _, r := range batch {
		rows = append(rows, *r)
	}
	sort.Slice(rows, func(i, j int) bool { // a stable order avoids deadlocks between nodes
		if rows[i].SubscriptionID != rows[j].SubscriptionID {
			return rows[i].SubscriptionID < rows[j].SubscriptionID
		}
		if rows[i].OperationID != rows[j].OperationID {
			return rows[i].OperationID < rows[j].OperationID
		}
		return rows[i].Minute.Before(rows[j].Minute)
	})
	err := l.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		add := func(col string) clause.Expr {
			return gorm.Expr("usage_ledger." + col + " + excluded." + col)
		}
		return tx.Clauses(clause.OnConflict{
			Columns: []clause.Column{{Name: "subscription_id"}, {Name: "operation_id"}, {Name: "minute"}},
			DoUpdates: clause.Assignments(map[string]any{
				"calls": add("calls"), "billable": add("billable"), "errors": add("errors"),
				"bytes_in": add("bytes_in"), "bytes_out": add("bytes_out"), "latency_ms_sum": add("latency_ms_sum"),
			}),
		}).CreateInBatches(rows, 200).Error
	})
	if err != nil {
		l.putBack(batch, keys) // for the next flush
		return fmt.Errorf("flush usage: %w", err)
	}
	if l.touch != nil {
		if err := l.touch(ctx, keys); err != nil {
			l.log.Warn("key last-used update failed", "err", err)
		}
	}
	return nil
}

// Close stops the background flushes and writes what is left (graceful
// shutdown), so the ledger stays exact across restarts.
func (l *Ledger) Close(ctx context.Context) error {
	close(l.stop)
	<-l.done
	return l.Flush(ctx)
}

// QuotaSpan is the span of ledger minutes that counts toward a quota
// window [start, end). The ledger counts by minute: the minute the window
// began counts whole, so a call in it is never left out (a call of the
// window before, in that minute, counts too: a quota may close a minute's
// calls early, never late). The gateway restores its counters by it, and
// the console shows quota use by it.
func QuotaSpan(start, end time.Time) (from, to time.Time) {
	return start.UTC().Truncate(time.Minute), end.UTC()
}

// QuotaUse implements gateway.QuotaLedger: the billable calls the ledger
// holds for each subscription in its day and period windows. A gateway
// node restores its quota counters from it when it starts (Close flushes
// before a graceful stop, so a restart loses nothing). Pending, unflushed
// usage of this process is not included: a node asks before it serves.
func (l *Ledger) QuotaUse(ctx context.Context, ws []gateway.QuotaWindow) (map[string]gateway.QuotaUse, error) {
	type span struct {
		id         string
		start, end time.Time
	}
	var days, periods []span
	for _, w := range ws {
		if !w.DayStart.IsZero() {
			from, to := QuotaSpan(w.DayStart, w.DayEnd)
			days = append(days, span{w.SubscriptionID, from, to})
		}
		if !w.PeriodStart.IsZero() {
			from, to := QuotaSpan(w.PeriodStart, w.PeriodEnd)
			periods = append(periods, span{w.SubscriptionID, from, to})
		}
	}
	out := map[string]gateway.QuotaUse{}
	// Each subscription has its own bounds: a batch of (id, from, to)
	// rows joins the ledger, which the primary key's leading
	// subscription_id serves, one index range per subscription. On
	// PostgreSQL the batch is three arrays; SQLite gets a VALUES list.
	postgres := l.db.Dialector.Name() == "postgres"
	sum := func(spans []span, add func(u *gateway.QuotaUse, n int64)) error {
		batch := 300
		if postgres {
			batch = 20000
		}
		for len(spans) > 0 {
			n := min(len(spans), batch)
			var rows *sql.Rows
			var err error
			if postgres {
				ids, from, to := make([]string, n), make([]time.Time, n), make([]time.Time, n)
				for i, sp := range spans[:n] {
					ids[i], from[i], to[i] = sp.id, sp.start, sp.end
				}
				var db *sql.DB
				if db, err = l.db.DB(); err != nil {
					return err
				}
				rows, err = db.QueryContext(ctx, `SELECT w.id, SUM(u.billable)
FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[]) AS w(id, ps, pe)
JOIN usage_ledger u ON u.subscription_id = w.id AND u.minute >= w.ps AND u.minute < w.pe
GROUP BY w.id`, ids, from, to)
			} else {
				var q strings.Builder
				q.WriteString("WITH w(id, ps, pe) AS (VALUES ")
				args := make([]any, 0, 3*n)
				for i, sp := range spans[:n] {
					if i > 0 {
						q.WriteString(", ")
					}
					q.WriteString("(?, ?, ?)")
					args = append(args, sp.id, sp.start, sp.end)
				}
				q.WriteString(") SELECT w.id, SUM(u.billable) FROM w JOIN usage_ledger u ON u.subscription_id = w.id AND u.minute >= w.ps AND u.minute < w.pe GROUP BY w.id")
				rows, err = l.db.WithContext(ctx).Raw(q.String(), args...).Rows()
			}
			if err != nil {
				return err
			}
			for rows.Next() {
				var id string
				var used int64
				if err := rows.Scan(&id, &used); err != nil {
					rows.Close()
					return err
				}
				u := out[id]
				add(&u, used)
				out[id] = u
			}
			err = rows.Err()
			rows.Close()
			if err != nil {
				return err
			}
			spans = spans[n:]
		}
		return nil
	}
	if err := sum(days, func(u *gateway.QuotaUse, n int64) { u.Day = n }); err != nil {
		return nil, fmt.Errorf("quota use: %w", err)
	}
	if err := sum(periods, func(u *gateway.QuotaUse, n int64) { u.Period = n }); err != nil {
		return nil, fmt.Errorf("quota use: %w", err)
	}
	return out, nil
}

// Usage is a subscription's usage over a time range.
type Usage struct {
	Calls    int64      `json:"calls"`
	Billable int64      `json:"billable"`
	Errors   int64      `json:"errors"`
	ByDay    []DayUsage `json:"by_day"`
}

// DayUsage is one UTC day of usage.
type DayUsage struct {
	Day      string `json:"day"`
	Calls    int64  `json:"calls"`
	Billable int64  `json:"billable"`
	Errors   int64  `json:"errors"`
}

// MaxUsageRange is the longest range SubscriptionUsage sums.
const MaxUsageRange = 400 * 24 * time.Hour

// SubscriptionUsage sums the ledger for a subscription in [from, to), for
// its partner or its provider (orgID is either; anyone else: not found).
func (s *Service) SubscriptionUsage(ctx context.Context, orgID, id string, from, to time.Time) (Usage, error) {
	var n int64
	if err := s.db.WithContext(ctx).Table("subscriptions").Where("id = ? AND (org_id = ? OR provider_org_id = ?)", id, orgID, orgID).Count(&n).Error; err != nil {
		return Usage{}, fmt.Errorf("usage: %w", err)
	}
	if n == 0 {
		return Usage{}, tenants.Errorf(tenants.ENotFound, "No such subscription.")
	}
	// Each error names the field to change: to when the range is empty
	// or reversed, from when it is too long (to defaults to now, so a
	// long range is usually an early from).
	switch {
	case !to.After(from):
		return Usage{}, tenants.FieldError("to", "to must be after from.")
	case to.Sub(from) > MaxUsageRange:
		return Usage{}, tenants.FieldError("from", fmt.Sprintf("Give a range of at most 400 days: from must be no more than 400 days before to (%s).", to.UTC().Format(time.RFC3339)))
	}
	// Summed by the database, one row per UTC day: a month of a busy
	// subscription is tens of thousands of per-minute rows.
	day := "strftime('%Y-%m-%d', minute)" // SQLite keeps UTC times as text
	if s.db.Dialector.Name() == "postgres" {
		day = "to_char(minute AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
	}
	u := Usage{ByDay: []DayUsage{}}
	if err := s.db.WithContext(ctx).Table("usage_ledger").
		Select(day+" AS day, SUM(calls) AS calls, SUM(billable) AS billable, SUM(errors) AS errors").
		Where("subscription_id = ? AND minute >= ? AND minute < ?", id, from.UTC(), to.UTC()).
		Group("day").Order("day").Scan(&u.ByDay).Error; err != nil {
		return Usage{}, fmt.Errorf("usage: %w", err)
	}
	for _, d := range u.ByDay {
		u.Calls += d.Calls
		u.Billable += d.Billable
		u.Errors += d.Errors
	}
	return u, nil
}
