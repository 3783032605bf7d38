package shell

import (
	"errors"
	"fmt"

	"github.com/go-zookeeper/zk"
)

// UsageError is a command line that cannot be run: unknown command or
// option, missing or extra argument. cmd/zk exits 2 for it.
type UsageError struct {
	Msg   string // what is wrong
	Usage string // the command's usage line, if known
}

func (e *UsageError) Error() string {
	if e.Usage != "" && e.Msg != "" {
		return e.Msg + "\nusage: " + e.Usage
	}
	if e.Usage != "" {
		return "usage: " + e.Usage
	}
	return e.Msg
}

func usagef(usage, format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...), Usage: usage}
}

// IsUsage reports whether err is a usage error.
func IsUsage(err error) bool {
	var u *UsageError
	return errors.As(err, &u)
}

// keeperName names a go-zookeeper error as KeeperException.Code does.
func keeperName(err error) string {
	var ke *KeeperError
	if errors.As(err, &ke) {
		return ke.Name
	}
	switch {
	case errors.Is(err, zk.ErrNoNode):
		return "NoNode"
	case errors.Is(err, zk.ErrNodeExists):
		return "NodeExists"
	case errors.Is(err, zk.ErrBadVersion):
		return "BadVersion"
	case errors.Is(err, zk.ErrNotEmpty):
		return "Directory not empty"
	case errors.Is(err, zk.ErrNoAuth):
		return "NoAuth"
	case errors.Is(err, zk.ErrInvalidACL):
		return "InvalidACL"
	case errors.Is(err, zk.ErrNoChildrenForEphemerals):
		return "NoChildrenForEphemerals"
	case errors.Is(err, zk.ErrSessionExpired):
		return "Session expired"
	case errors.Is(err, zk.ErrAuthFailed):
		return "AuthFailed"
	case errors.Is(err, zk.ErrBadArguments):
		return "BadArguments"
	case errors.Is(err, zk.ErrConnectionClosed), errors.Is(err, zk.ErrClosing):
		return "ConnectionLoss"
	case errors.Is(err, zk.ErrSessionMoved):
		return "Session moved"
	case errors.Is(err, zk.ErrReconfigDisabled):
		return "Reconfig is disabled"
	case errors.Is(err, zk.ErrAPIError):
		return "APIError"
	case errors.Is(err, zk.ErrNothing):
		return "Nothing"
	}
	return ""
}

// cliError turns a client error for path into zkCli.sh 3.8's sentence
// (CliWrapperException), e.g. "Node does not exist: /x"; other server
// errors read as KeeperException's message
// "KeeperErrorCode = ConnectionLoss for /x".
func cliError(err error, path string) error {
	if err == nil {
		return nil
	}
	var msg string
	switch {
	case errors.Is(err, zk.ErrNoNode):
		msg = "Node does not exist: " + path
	case errors.Is(err, zk.ErrBadVersion):
		msg = "version No is not valid : " + path
	case errors.Is(err, zk.ErrNotEmpty):
		msg = "Node not empty: " + path
	case errors.Is(err, zk.ErrNodeExists):
		msg = "Node already exists: " + path
	case errors.Is(err, zk.ErrNoChildrenForEphemerals):
		msg = "Ephemerals cannot have children: " + path
	case errors.Is(err, zk.ErrNoAuth):
		msg = "Insufficient permission : " + path
	case errors.Is(err, zk.ErrInvalidACL):
		msg = "Acl is not valid : " + path
	case errors.Is(err, zk.ErrBadArguments):
		msg = "Arguments are not valid : " + path
	case keeperName(wrapUnknown(err)) == "QuotaExceeded":
		msg = "Quota has exceeded : " + path
	default:
		if n := keeperName(wrapUnknown(err)); n != "" {
			msg = "KeeperErrorCode = " + n + " for " + path
		} else {
			msg = fmt.Sprintf("%s: %v", path, err)
		}
	}
	return &CommandError{Msg: msg, Err: err}
}

// CommandError is a command that ran and failed; Msg is the zkCli-style
// sentence printed to the user.
type CommandError struct {
	Msg string
	Err error
}

func (e *CommandError) Error() string { return e.Msg }
func (e *CommandError) Unwrap() error { return e.Err }
