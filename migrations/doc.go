// Package migrations holds Portico's versioned SQL schema, one folder per SQL
// dialect, embedded into the binary and applied with goose. It is the only
// source of the schema: nothing calls gorm's AutoMigrate. It also opens the
// database a configuration names, so every entry point (serve, gateway,
// migrate, tests) opens it the same way.
package migrations
