package wire

import (
	"errors"
	"fmt"
)

// Code is a ZooKeeper error code (KeeperException.Code).
type Code int32

// Error codes as Apache ZooKeeper 3.8 sends them.
const (
	CodeOK                      Code = 0
	CodeSystemError             Code = -1
	CodeRuntimeInconsistency    Code = -2
	CodeDataInconsistency       Code = -3
	CodeConnectionLoss          Code = -4
	CodeMarshallingError        Code = -5
	CodeUnimplemented           Code = -6
	CodeOperationTimeout        Code = -7
	CodeBadArguments            Code = -8
	CodeUnknownSession          Code = -12
	CodeNewConfigNoQuorum       Code = -13
	CodeReconfigInProgress      Code = -14
	CodeAPIError                Code = -100
	CodeNoNode                  Code = -101
	CodeNoAuth                  Code = -102
	CodeBadVersion              Code = -103
	CodeNoChildrenForEphemerals Code = -108
	CodeNodeExists              Code = -110
	CodeNotEmpty                Code = -111
	CodeSessionExpired          Code = -112
	CodeInvalidCallback         Code = -113
	CodeInvalidACL              Code = -114
	CodeAuthFailed              Code = -115
	CodeSessionMoved            Code = -118
	CodeNotReadOnly             Code = -119
	CodeEphemeralOnLocalSession Code = -120
	CodeNoWatcher               Code = -121
	CodeRequestTimeout          Code = -122
	CodeReconfigDisabled        Code = -123
	// CodeSessionClosedRequireSASLAuth answers a request of a connection
	// without the ids enforce.auth.schemes asks for (3.8's
	// SESSIONCLOSEDREQUIRESASLAUTH, whatever the scheme).
	CodeSessionClosedRequireSASLAuth Code = -124
	CodeQuotaExceeded                Code = -125
	CodeThrottled                    Code = -127
)

var codeText = map[Code]string{
	CodeOK:                           "ok",
	CodeSystemError:                  "SystemError",
	CodeRuntimeInconsistency:         "RuntimeInconsistency",
	CodeDataInconsistency:            "DataInconsistency",
	CodeConnectionLoss:               "ConnectionLoss",
	CodeMarshallingError:             "MarshallingError",
	CodeUnimplemented:                "Unimplemented",
	CodeOperationTimeout:             "OperationTimeout",
	CodeBadArguments:                 "BadArguments",
	CodeUnknownSession:               "UnknownSession",
	CodeNewConfigNoQuorum:            "NewConfigNoQuorum",
	CodeReconfigInProgress:           "ReconfigInProgress",
	CodeAPIError:                     "APIError",
	CodeNoNode:                       "NoNode",
	CodeNoAuth:                       "NoAuth",
	CodeBadVersion:                   "BadVersion",
	CodeNoChildrenForEphemerals:      "NoChildrenForEphemerals",
	CodeNodeExists:                   "NodeExists",
	CodeNotEmpty:                     "Directory not empty",
	CodeSessionExpired:               "Session expired",
	CodeInvalidCallback:              "Invalid callback",
	CodeInvalidACL:                   "InvalidACL",
	CodeAuthFailed:                   "AuthFailed",
	CodeSessionMoved:                 "Session moved",
	CodeNotReadOnly:                  "Not a read-only call",
	CodeEphemeralOnLocalSession:      "Ephemeral node on local session",
	CodeNoWatcher:                    "No such watcher",
	CodeRequestTimeout:               "RequestTimeout",
	CodeReconfigDisabled:             "Reconfig is disabled",
	CodeSessionClosedRequireSASLAuth: "Session closed because client failed to authenticate",
	CodeQuotaExceeded:                "Quota has exceeded",
	CodeThrottled:                    "Op throttled due to high load",
}

// String returns Apache's text for the code.
func (c Code) String() string {
	if s, ok := codeText[c]; ok {
		return s
	}
	return fmt.Sprintf("Unknown error %d", int32(c))
}

// Error is a ZooKeeper error with its code.
type Error struct {
	Code Code
}

func (e *Error) Error() string { return "KeeperErrorCode = " + e.Code.String() }

// Sentinel errors, compared with errors.Is.
var (
	ErrRuntimeInconsistency    = &Error{CodeRuntimeInconsistency}
	ErrMarshallingError        = &Error{CodeMarshallingError}
	ErrUnimplemented           = &Error{CodeUnimplemented}
	ErrBadArguments            = &Error{CodeBadArguments}
	ErrNoNode                  = &Error{CodeNoNode}
	ErrNoAuth                  = &Error{CodeNoAuth}
	ErrBadVersion              = &Error{CodeBadVersion}
	ErrNoChildrenForEphemerals = &Error{CodeNoChildrenForEphemerals}
	ErrNodeExists              = &Error{CodeNodeExists}
	ErrNotEmpty                = &Error{CodeNotEmpty}
	ErrSessionExpired          = &Error{CodeSessionExpired}
	ErrInvalidACL              = &Error{CodeInvalidACL}
	ErrAuthFailed              = &Error{CodeAuthFailed}
	ErrSessionMoved            = &Error{CodeSessionMoved}
	ErrNotReadOnly             = &Error{CodeNotReadOnly}
	ErrNoWatcher               = &Error{CodeNoWatcher}
	ErrReconfigDisabled        = &Error{CodeReconfigDisabled}
	ErrSystemError             = &Error{CodeSystemError}
	ErrQuotaExceeded           = &Error{CodeQuotaExceeded}
)

var byCode = map[Code]*Error{}

func init() {
	for _, e := range []*Error{ErrRuntimeInconsistency, ErrMarshallingError, ErrUnimplemented,
		ErrBadArguments, ErrNoNode, ErrNoAuth, ErrBadVersion, ErrNoChildrenForEphemerals,
		ErrNodeExists, ErrNotEmpty, ErrSessionExpired, ErrInvalidACL, ErrAuthFailed,
		ErrSessionMoved, ErrNotReadOnly, ErrNoWatcher, ErrReconfigDisabled, ErrSystemError, ErrQuotaExceeded} {
		byCode[e.Code] = e
	}
}

// ErrorOf returns the sentinel for a code (nil for CodeOK).
func ErrorOf(c Code) error {
	if c == CodeOK {
		return nil
	}
	if e, ok := byCode[c]; ok {
		return e
	}
	return &Error{c}
}

// CodeOf returns the ZooKeeper code of err: CodeOK for nil, the code of a
// wrapped *Error, and CodeSystemError for anything else.
func CodeOf(err error) Code {
	if err == nil {
		return CodeOK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeSystemError
}

// Is makes errors.Is match any *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}
