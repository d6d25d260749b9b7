// Package verdict judges a probe from facts alone: where it was found and what
// its headers say. It parses Authentication-Results (RFC 8601), decides which of
// them to trust by authserv-id, and names the placement. It is pure: headers and
// facts in, a verdict out, with no I/O, no clock and no logger. It does not
// fetch anything; see seedbox.
package verdict
