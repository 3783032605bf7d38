package shell

import "bytes"

type bytesBuffer = bytes.Buffer
