// Package clusterstatus owns `zk status`: it asks every server of a list
// for srvr and mntr (through fourletter.Query), collects one Server per
// address, and judges the whole: healthy when every server answers and a
// quorum of voters agrees on one leader (or the list is a single
// standalone server), degraded otherwise, down when nobody answers.
//
// Check queries the servers concurrently, one goroutine per server and
// word, all bounded by the caller's context; nothing outlives Check.
// The package renders the report as a table (internal/textable) or leaves it to
// encoding/json; it imports only fourletter of ours.
package clusterstatus
