package gateway

import (
	"hash/maphash"
	"math"
	"strings"
	"time"
)

// A snapshot holds its keys and subscriptions — hundreds of thousands of
// each in a large configuration — as records without pointers: strings are
// offsets into one arena, the ids many records share (apps',
// organisations', APIs', plans') are indexes into a table of names, times
// are numbers, repeated values (periods, plans' limits, version lists,
// locations) are indexes into small tables, and the lookup indexes are
// arrays of positions. The garbage collector marks a pointer-free
// allocation without reading it, so a GC cycle costs the same whether the
// snapshot holds ten keys or a million, and a request pays nothing for the
// configuration's size. Lookups rebuild a Key or a Subscription as a value
// whose strings are slices of the arena: no copy, no allocation.

// strRef is a string in the snapshot's arena.
type strRef struct{ off, n uint32 }

// name is a string many records share, as an index into the snapshot's
// names.
type name uint32

// instant is a time.Time as plain numbers: Unix seconds and nanoseconds,
// and its location as an index into the snapshot's locations plus one; 0
// is the zero Time.
type instant struct {
	sec  int64
	nsec int32
	loc  int32
}

// keyRec is an access key or an app code.
type keyRec struct {
	access  strRef
	secret  strRef // in the secrets arena; empty for app codes
	app     name
	org     name
	expires instant
	stage   uint8  // index into stages
	pos     uint32 // its index in Snapshot.keys plus one; 0 for app codes
}

// subRec is a subscription.
type subRec struct {
	id                            strRef
	app, org, provider, api, plan name
	period                        uint32 // index into periods
	limits                        uint32 // index into limits
	versions                      uint32 // index into lists
	status                        uint8  // index into statuses
}

// Subscription statuses as records encode them.
const (
	subPendingApproval uint8 = iota + 1
	subPendingPayment
	subActive
	subSuspended
)

// stages and statuses are the values records encode by position; Compile
// refuses any other.
var (
	stages   = [...]string{"", StageProduction, StageTest}
	statuses = [...]SubscriptionStatus{subPendingApproval: SubPendingApproval, subPendingPayment: SubPendingPayment,
		subActive: SubActive, subSuspended: SubSuspended}
)

func stageCode(s string) (uint8, bool) {
	for i, v := range stages {
		if v == s {
			return uint8(i), true
		}
	}
	return 0, false
}

func statusCode(s SubscriptionStatus) (uint8, bool) {
	for i, v := range statuses {
		if i > 0 && v == s {
			return uint8(i), true
		}
	}
	return 0, false
}

// index maps keys to positions in a slice of records: open addressing with
// linear probing over a power-of-two array of slots at most half full. A
// slot holds a position plus one; 0 is empty. The seed is random per
// snapshot, so request data cannot be chosen to collide.
type index struct {
	seed  maphash.Seed
	slots []uint32
}

func newIndex(n int) index {
	size := 8
	for size < 2*n {
		size <<= 1
	}
	return index{seed: maphash.MakeSeed(), slots: make([]uint32, size)}
}

// slot returns the slot on h's probe sequence whose position same accepts,
// or else the empty slot that ends the sequence.
func (x *index) slot(h uint64, same func(pos int) bool) *uint32 {
	mask := uint64(len(x.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := &x.slots[i]
		if *s == 0 || same(int(*s-1)) {
			return s
		}
	}
}

// pairHash hashes an (app, API) pair.
func pairHash(seed maphash.Seed, app, api string) uint64 {
	h := maphash.String(seed, app)
	return (h<<29 | h>>35) ^ maphash.String(seed, api)*0x9e3779b97f4a7c15
}

// tableBuilder collects what the records refer to while Compile runs. The
// arena is laid out as the strings no two records share (access keys,
// subscription ids, app code prefixes: their total length is known up
// front, so that part is allocated once), then the names.
type tableBuilder struct {
	uniq, shared []byte
	base         int // len of the unique part, where the names start
	secrets      []byte
	names        []strRef
	nameIndex    index // over names
	locs         map[*time.Location]int32
	locList      []*time.Location
	periods      map[[2]instant]uint32
	periodList   [][2]instant
	limits       map[Limits]uint32
	limitList    []Limits
	lists        map[string]uint32
	listList     [][]string
	listKey      []byte
	tooBig       bool
}

// newTableBuilder sizes the builder for cfg.
func newTableBuilder(cfg *Config) *tableBuilder {
	uniq, secrets := 0, 0
	for id, k := range cfg.Keys {
		uniq += len(id)
		secrets += len(k.Secret)
	}
	for i := range cfg.Subscriptions {
		uniq += len(cfg.Subscriptions[i].ID)
	}
	for _, ac := range cfg.AppCodes {
		uniq += len(ac.Prefix)
	}
	return &tableBuilder{uniq: make([]byte, 0, uniq), base: uniq, secrets: make([]byte, 0, secrets), tooBig: uniq > math.MaxUint32,
		nameIndex: newIndex(0), locs: map[*time.Location]int32{}, periods: map[[2]instant]uint32{}, limits: map[Limits]uint32{},
		lists: map[string]uint32{}, listList: [][]string{nil}}
}

// add puts s, which no other record holds, in the arena.
func (b *tableBuilder) add(s string) strRef {
	if len(b.uniq)+len(s) > b.base { // not counted by newTableBuilder: keep the layout
		return b.addShared(s)
	}
	r := strRef{uint32(len(b.uniq)), uint32(len(s))}
	b.uniq = append(b.uniq, s...)
	return r
}

func (b *tableBuilder) addShared(s string) strRef {
	off := b.base + len(b.shared)
	if off+len(s) > math.MaxUint32 {
		b.tooBig = true
		return strRef{}
	}
	b.shared = append(b.shared, s...)
	return strRef{uint32(off), uint32(len(s))}
}

// sharedBytes is a string addShared stored.
func (b *tableBuilder) sharedBytes(r strRef) []byte {
	off := int(r.off) - b.base
	return b.shared[off : off+int(r.n)]
}

// share returns the name of s, adding it the first time.
func (b *tableBuilder) share(s string) name {
	slot := b.nameIndex.slot(maphash.String(b.nameIndex.seed, s), func(i int) bool { return string(b.sharedBytes(b.names[i])) == s })
	if *slot != 0 {
		return name(*slot - 1)
	}
	b.names = append(b.names, b.addShared(s))
	*slot = uint32(len(b.names))
	if 2*len(b.names) > len(b.nameIndex.slots) {
		x := newIndex(2 * len(b.names))
		for i, r := range b.names {
			*x.slot(maphash.Bytes(x.seed, b.sharedBytes(r)), func(int) bool { return false }) = uint32(i + 1)
		}
		b.nameIndex = x
	}
	return name(len(b.names) - 1)
}

func (b *tableBuilder) secret(s []byte) strRef {
	if len(b.secrets)+len(s) > math.MaxUint32 {
		b.tooBig = true
		return strRef{}
	}
	r := strRef{uint32(len(b.secrets)), uint32(len(s))}
	b.secrets = append(b.secrets, s...)
	return r
}

func (b *tableBuilder) instant(t time.Time) instant {
	if t.IsZero() {
		return instant{}
	}
	loc := t.Location()
	i, ok := b.locs[loc]
	if !ok {
		b.locList = append(b.locList, loc)
		i = int32(len(b.locList))
		b.locs[loc] = i
	}
	return instant{sec: t.Unix(), nsec: int32(t.Nanosecond()), loc: i}
}

// period returns the index of a subscription's period: many share one.
func (b *tableBuilder) period(start, end time.Time) uint32 {
	return indexOf(b.periods, &b.periodList, [2]instant{b.instant(start), b.instant(end)})
}

// limit returns the index of a plan's limits: many share them.
func (b *tableBuilder) limit(l Limits) uint32 { return indexOf(b.limits, &b.limitList, l) }

// indexOf returns v's position in list, appending it (and noting where in
// index) the first time.
func indexOf[V comparable](index map[V]uint32, list *[]V, v V) uint32 {
	i, ok := index[v]
	if !ok {
		i = uint32(len(*list))
		*list = append(*list, v)
		index[v] = i
	}
	return i
}

// list returns the index of a list of versions; lists repeat across
// every subscription to the same plan. An empty list is index 0, nil.
func (b *tableBuilder) list(v []string) uint32 {
	if len(v) == 0 {
		return 0
	}
	b.listKey = b.listKey[:0]
	for _, s := range v {
		b.listKey = append(append(b.listKey, s...), 0)
	}
	if i, ok := b.lists[string(b.listKey)]; ok {
		return i
	}
	l := make([]string, len(v))
	for j, s := range v {
		l[j] = strings.Clone(s) // not a slice of a larger buffer the configuration holds
	}
	i := uint32(len(b.listList))
	b.listList = append(b.listList, l)
	b.lists[string(b.listKey)] = i
	return i
}

// finish hands s the tables.
func (b *tableBuilder) finish(s *Snapshot) {
	var sb strings.Builder
	sb.Grow(b.base + len(b.shared))
	sb.Write(b.uniq[:b.base]) // zeros where a bad record was skipped
	sb.Write(b.shared)
	s.strs = sb.String()
	if len(b.secrets) > 0 {
		s.secrets = b.secrets
	}
	s.names, s.locs, s.periods, s.limits, s.lists = b.names, b.locList, b.periodList, b.limitList, b.listList
}

func (s *Snapshot) str(r strRef) string { return s.strs[r.off : r.off+r.n] }

func (s *Snapshot) name(n name) string { return s.str(s.names[n]) }

func (s *Snapshot) secret(r strRef) []byte {
	if r.n == 0 {
		return nil
	}
	return s.secrets[r.off : r.off+r.n : r.off+r.n]
}

func (s *Snapshot) time(i instant) time.Time {
	if i.loc == 0 {
		return time.Time{}
	}
	return time.Unix(i.sec, int64(i.nsec)).In(s.locs[i.loc-1])
}

// keyRec returns the record of an access key, or nil.
func (s *Snapshot) keyRec(accessKey string) *keyRec {
	if i := s.keyIndexOf(accessKey); i >= 0 {
		return &s.keys[i]
	}
	return nil
}

// keyIndexOf returns the index in keys of an access key's record, or -1.
func (s *Snapshot) keyIndexOf(accessKey string) int {
	if len(s.keys) == 0 {
		return -1
	}
	p := *s.keyIndex.slot(maphash.String(s.keyIndex.seed, accessKey), func(i int) bool { return s.str(s.keys[i].access) == accessKey })
	return int(p) - 1
}

// key rebuilds the Key a record holds.
func (s *Snapshot) key(r *keyRec) Key {
	return Key{AccessKey: s.str(r.access), Secret: s.secret(r.secret), AppID: s.name(r.app), OrgID: s.name(r.org),
		Stage: stages[r.stage], ExpiresAt: s.time(r.expires)}
}

// subscription rebuilds the Subscription the i-th record holds. Its Versions are
// shared: read-only.
func (s *Snapshot) subscription(i int) Subscription {
	r := &s.subs[i]
	p := &s.periods[r.period]
	return Subscription{ID: s.str(r.id), AppID: s.name(r.app), OrgID: s.name(r.org), ProviderOrgID: s.name(r.provider),
		APIID: s.name(r.api), PlanID: s.name(r.plan), Status: statuses[r.status], Versions: s.lists[r.versions],
		Limits: s.limits[r.limits], PeriodStart: s.time(p[0]), PeriodEnd: s.time(p[1]), cells: &s.cells[i]}
}
