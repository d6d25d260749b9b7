// Package seeds carries the provider catalog into the binary, so that mailflow
// knows the big providers' IMAP servers, junk folders and authserv-ids without
// any file beside it. The directory also holds example seed lists.
package seeds

import _ "embed"

// Providers is the TOML text of providers.toml.
//
//go:embed providers.toml
var Providers []byte
