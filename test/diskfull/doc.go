// Package diskfull runs the real zkserver binary on a small tmpfs and fills
// the disk under it: writes must be refused with NOTREADONLY (-119) while
// reads go on, writes must resume once space returns, and every
// acknowledged write must survive a SIGKILL and restart. Mounting needs
// root; without it the test skips and says that the full-disk behaviour is
// covered by the fault-injection tests of server (TestLogWriteFailureRefusesWrites)
// and server/storage (TestInjectedWriteFault, TestFullDisk). It owns no
// production code and drives the binary as a user would.
package diskfull
