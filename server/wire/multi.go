package wire

import "fmt"

// MultiHeader precedes each op of a multi request or response.
type MultiHeader struct {
	Type int32
	Done bool
	Err  int32
}

func (h *MultiHeader) Encode(e *Encoder) { e.Int(h.Type); e.Bool(h.Done); e.Int(h.Err) }
func (h *MultiHeader) Decode(d *Decoder) { h.Type = d.Int(); h.Done = d.Bool(); h.Err = d.Int() }

// Op is one operation of a multi or multiRead: its opcode and request record
// (*CreateRequest, *CreateTTLRequest, *PathVersionRequest for delete and
// check, *SetDataRequest, *PathWatchRequest for getData and getChildren).
type Op struct {
	Type int32
	Req  Record
}

// MultiRequest is the body of multi (14) and multiRead (22).
type MultiRequest struct {
	Ops []Op
}

func (r *MultiRequest) Encode(e *Encoder) {
	for _, op := range r.Ops {
		h := MultiHeader{Type: op.Type, Done: false, Err: -1}
		h.Encode(e)
		op.Req.Encode(e)
	}
	h := MultiHeader{Type: -1, Done: true, Err: -1}
	h.Encode(e)
}

func (r *MultiRequest) Decode(d *Decoder) {
	for d.Err() == nil {
		var h MultiHeader
		h.Decode(d)
		if d.Err() != nil || h.Done {
			return
		}
		req := NewMultiOpRequest(h.Type)
		if req == nil {
			d.fail(fmt.Errorf("multi: invalid op type %d", h.Type))
			return
		}
		req.Decode(d)
		r.Ops = append(r.Ops, Op{Type: h.Type, Req: req})
	}
}

// NewMultiOpRequest returns an empty request record for an op allowed in
// multi or multiRead, or nil.
func NewMultiOpRequest(op int32) Record {
	switch op {
	case OpCreate, OpCreate2, OpCreateContainer:
		return &CreateRequest{}
	case OpCreateTTL:
		return &CreateTTLRequest{}
	case OpDelete, OpCheck:
		return &PathVersionRequest{}
	case OpSetData:
		return &SetDataRequest{}
	case OpGetData, OpGetChildren:
		return &PathWatchRequest{}
	}
	return nil
}

// OpResult is one result of a multi response: the op type (OpError for a
// failure) with its error code and response record (nil when none).
type OpResult struct {
	Type int32
	Err  Code
	Resp Record
}

// MultiResponse is the body of multi's and multiRead's replies.
type MultiResponse struct {
	Results []OpResult
}

func (r *MultiResponse) Encode(e *Encoder) {
	for _, res := range r.Results {
		h := MultiHeader{Type: res.Type, Done: false, Err: int32(res.Err)}
		h.Encode(e)
		if res.Type == OpError {
			(&ErrorResponse{Err: res.Err}).Encode(e)
		} else if res.Resp != nil {
			res.Resp.Encode(e)
		}
	}
	h := MultiHeader{Type: -1, Done: true, Err: -1}
	h.Encode(e)
}

func (r *MultiResponse) Decode(d *Decoder) {
	for d.Err() == nil {
		var h MultiHeader
		h.Decode(d)
		if d.Err() != nil || h.Done {
			return
		}
		res := OpResult{Type: h.Type, Err: Code(h.Err)}
		switch h.Type {
		case OpError:
			var er ErrorResponse
			er.Decode(d)
			res.Err = er.Err
		case OpCreate:
			res.Resp = &CreateResponse{}
		case OpCreate2, OpCreateTTL, OpCreateContainer:
			res.Resp = &Create2Response{}
		case OpSetData:
			res.Resp = &StatResponse{}
		case OpGetData:
			res.Resp = &GetDataResponse{}
		case OpGetChildren:
			res.Resp = &ChildrenResponse{}
		case OpDelete, OpCheck:
		default:
			d.fail(fmt.Errorf("multi: invalid result type %d", h.Type))
			return
		}
		if res.Resp != nil {
			res.Resp.Decode(d)
		}
		r.Results = append(r.Results, res)
	}
}
