package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Config is what login stores between runs, in
// $XDG_CONFIG_HOME/portico/config.json (~/.config/portico/config.json when
// XDG_CONFIG_HOME is unset), readable by the owner only: it holds a token or
// a secret key.
type Config struct {
	// Server is the Portico URL the credentials belong to.
	Server string `json:"server"`
	// Token is a personal access token; it is sent to Server only.
	Token string `json:"token,omitempty"`
	// AccessKey and SecretKey are a management API key pair (PU…), stored
	// instead of a token by 'login --access-key': requests to Server are
	// then signed with them (SigV4), and the secret is never sent.
	AccessKey string `json:"access_key,omitempty"`
	SecretKey string `json:"secret_key,omitempty"`
	// Region is the server's region, part of the signature's credential
	// scope; empty means "local".
	Region string `json:"region,omitempty"`
	// TokenID lets logout revoke the token it created.
	TokenID string `json:"token_id,omitempty"`
	// Email is the logged-in user's, the default for password prompts.
	Email string `json:"email,omitempty"`
}

// configPath returns where the config file lives, honouring
// XDG_CONFIG_HOME; getenv reads the environment.
func configPath(getenv func(string) string) (string, error) {
	if dir := getenv("XDG_CONFIG_HOME"); dir != "" && filepath.IsAbs(dir) {
		return filepath.Join(dir, "portico", "config.json"), nil
	}
	home := getenv("HOME")
	if home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("find the config folder: set HOME or XDG_CONFIG_HOME: %w", err)
		}
		home = h
	}
	return filepath.Join(home, ".config", "portico", "config.json"), nil
}

// loadConfig reads the config file; a missing file is an empty config.
func loadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &Config{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("read config %s: %w (fix or delete the file)", path, err)
	}
	return &c, nil
}

// saveConfig writes the config file with mode 0600 in a 0700 folder,
// replacing it in one step so a crash never leaves half a file. A file that
// was readable by others before is not after.
func saveConfig(path string, c *Config) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save config: %w", err)
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("save config: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".config-*.json")
	if err != nil {
		return fmt.Errorf("save config: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("save config: %w", err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("save config: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save config: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save config: %w", err)
	}
	return nil
}

// sameServer compares server URLs loosely (a trailing slash, letter case of
// the scheme and host), so a token is used for the server it came from.
func sameServer(a, b string) bool {
	norm := func(s string) string { return strings.ToLower(strings.TrimRight(strings.TrimSpace(s), "/")) }
	return a != "" && norm(a) == norm(b)
}
