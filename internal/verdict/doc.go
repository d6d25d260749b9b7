// Package verdict judges a probe from facts alone: where it was found and what
// its headers say. It parses Authentication-Results (RFC 8601), decides which
// fields to trust by authserv-id, summarises SPF, DKIM and DMARC as the
// trusted receiver saw them, and names the placement.
//
// It is pure: header values and facts in, a verdict out, with no I/O, no clock
// and no logger, so every rule can be tested from strings. It does not fetch
// or read messages (see seedbox), submit them (see submit) or store verdicts
// (see store); it does not check signatures or DNS itself, only reads what the
// receiver wrote.
package verdict
