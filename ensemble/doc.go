// Package ensemble owns local pseudo-clusters of zkserver processes, the
// engine of `zk ensemble`: it plans an ensemble (client ports base..,
// quorum, election and AdminServer ports from free ranges), writes one
// zoo.cfg and myid per member under a directory, starts and stops the
// `zkserver start-foreground` processes in the background with their
// output in a log file per member, records them in a state file
// (ensemble.json), and asks every member for srvr to say who leads and
// who serves.
//
// Layout of an ensemble directory DIR:
//
//	DIR/ensemble.json        the plan and the pid of every member (State)
//	DIR/.lock                flock'd by every command that changes anything
//	DIR/serverN/zoo.cfg      member N's configuration
//	DIR/serverN/data/myid    its myid; its snapshots and log live beside it
//	DIR/serverN/zkserver.log its stdout and stderr
//
// The processes outlive the command that started them (they get their own
// session, so a Ctrl-C in the terminal does not reach them). A member is
// taken as running when its recorded pid is alive, not a zombie, and
// (where /proc exists) its command line names its zoo.cfg, so a reused pid
// is not mistaken for a member.
//
// Waiting is polling srvr with a deadline, never a sleep. The package
// imports only fourletter of ours; it never reads the servers' files
// beyond their log tails for error messages. Nothing here runs in the
// background once a call returns, except the zkserver processes.
package ensemble
