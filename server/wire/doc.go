// Package wire is the ZooKeeper 3.8 client protocol: the jute binary
// encoding, every request and response record, opcodes, error codes, event
// types and keeper states. It imports nothing of zkgo's.
//
// Records encode themselves with Encode(*Encoder) and decode with
// Decode(*Decoder). A Decoder holds a sticky error: after the first short or
// malformed field every later read returns zero values and Err reports what
// went wrong, so record decoders need no error plumbing and can never panic
// or allocate more than the frame holds.
package wire
