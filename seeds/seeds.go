// Package seeds carries the provider catalog into the binary, so that mailflow
// knows the big providers' IMAP servers, junk folders and authserv-ids without
// any file beside it. The directory also holds example seed lists. It does not
// parse the catalog; see config.Catalog.
package seeds

import _ "embed"

// Providers is the TOML text of providers.toml: one [providers.ID] table per
// mailbox provider.
//
//go:embed providers.toml
var Providers []byte
