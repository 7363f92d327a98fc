package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"gorm.io/gorm"

	"github.com/portico-dev/portico/migrations"
	"github.com/portico-dev/portico/portal/catalog"
	"github.com/portico-dev/portico/portal/domains"
	"github.com/portico-dev/portico/tenants"
	"github.com/portico-dev/portico/tenants/keyring"
)

// sealedColumns are every column of values sealed under the master key.
var sealedColumns = []keyring.Column{tenants.SealedAccessKeySecrets, catalog.SealedBackendKeys, domains.SealedKeys}

// resealBatch is how many rows one transaction of reseal reads and updates.
const resealBatch = 500

// resealCount is what reseal did to one column.
type resealCount struct {
	Col      keyring.Column
	Values   int // rows read
	Resealed int // moved from a previous master key to the current one
	Failed   []string
}

// resealCommand is `portico reseal`: every sealed value that opens only
// under a previous master key is sealed again under the current one, so
// that the previous keys can be dropped. It runs while Portico serves: each
// row is updated only if it still holds the value read (a value written
// meanwhile is already under the current key), and the plaintexts do not
// change, so nothing else needs telling.
func resealCommand(ctx context.Context, cfg *Config, db *migrations.DB, log *slog.Logger, stdout io.Writer) error {
	kr, err := masterKey(cfg, db.Dialect, log)
	if err != nil {
		return err
	}
	counts, err := reseal(ctx, db.DB, kr, sealedColumns, func(c resealCount) {
		log.Info("resealing", "column", c.Col.Table+"."+c.Col.Sealed, "read", c.Values, "resealed", c.Resealed, "failed", len(c.Failed))
	})
	failed := 0
	for _, c := range counts {
		fmt.Fprintf(stdout, "%s.%s: %d values, %d resealed under the current master key\n", c.Col.Table, c.Col.Sealed, c.Values, c.Resealed)
		for _, id := range c.Failed {
			fmt.Fprintf(stdout, "  cannot open %s %s=%s under any of the master keys given\n", c.Col.Table, c.Col.Key, id)
		}
		failed += len(c.Failed)
	}
	if err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d sealed values open under none of the master keys: keep the key they need in PORTICO_PREVIOUS_MASTER_KEYS", failed)
	}
	if kr.Previous() > 0 {
		fmt.Fprintln(stdout, "every sealed value is under the current master key: once every node runs with it, and sessions and access tokens signed under the previous keys have expired, PORTICO_PREVIOUS_MASTER_KEYS can be dropped")
	} else {
		fmt.Fprintln(stdout, "every sealed value opens under the current master key")
	}
	return nil
}

// resealProgressEvery is how many rows reseal reads between progress
// reports.
const resealProgressEvery = 10 * resealBatch

// reseal moves every value of cols that opens under a previous master key
// of kr to its current key, in batches of one transaction each; progress,
// when set, hears how far a column has got every resealProgressEvery rows.
func reseal(ctx context.Context, db *gorm.DB, kr *keyring.Keyring, cols []keyring.Column, progress func(resealCount)) ([]resealCount, error) {
	var out []resealCount
	for _, col := range cols {
		c := resealCount{Col: col}
		// The names come from the code, never from input.
		sel := fmt.Sprintf("SELECT %s AS k, %s AS c, %s AS s FROM %s WHERE %s > ? ORDER BY %s LIMIT %d",
			col.Key, col.ContextFrom, col.Sealed, col.Table, col.Key, col.Key, resealBatch)
		upd := fmt.Sprintf("UPDATE %s SET %s = ? WHERE %s = ? AND %s = ?", col.Table, col.Sealed, col.Key, col.Sealed)
		after := ""
		for {
			var rows []struct{ K, C, S string }
			if err := db.WithContext(ctx).Raw(sel, after).Scan(&rows).Error; err != nil {
				return append(out, c), fmt.Errorf("reseal %s: %w", col.Table, err)
			}
			if len(rows) == 0 {
				break
			}
			err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
				for _, r := range rows {
					c.Values++
					v, changed, err := kr.Reseal(r.S, col.Context(r.C))
					if err != nil {
						c.Failed = append(c.Failed, r.K)
						continue
					}
					if !changed {
						continue
					}
					res := tx.Exec(upd, v, r.K, r.S)
					if res.Error != nil {
						return res.Error
					}
					c.Resealed += int(res.RowsAffected)
				}
				return nil
			})
			if err != nil {
				return append(out, c), fmt.Errorf("reseal %s: %w", col.Table, err)
			}
			after = rows[len(rows)-1].K
			if progress != nil && c.Values%resealProgressEvery < len(rows) {
				progress(c)
			}
		}
		out = append(out, c)
	}
	return out, nil
}
