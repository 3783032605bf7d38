package ensemble

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
)

// StateFile is the name of the state file inside an ensemble directory.
const StateFile = "ensemble.json"

const lockFile = ".lock"

// ErrNoEnsemble is returned by Open when the directory holds no ensemble.
var ErrNoEnsemble = errors.New("no ensemble")

// DefaultDir is the per-user default ensemble directory:
// $TMPDIR/zkgo-$USER/ensemble.
func DefaultDir() string {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	if name == "" {
		name = strconv.Itoa(os.Getuid())
	}
	name = strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == os.PathSeparator {
			return '_'
		}
		return r
	}, name)
	return filepath.Join(os.TempDir(), "zkgo-"+name, "ensemble")
}

// MemberDir is member id's directory inside dir.
func MemberDir(dir string, id int) string {
	return filepath.Join(dir, "server"+strconv.Itoa(id))
}

// ConfigPath is member id's zoo.cfg.
func ConfigPath(dir string, id int) string { return filepath.Join(MemberDir(dir, id), "zoo.cfg") }

// DataDir is member id's dataDir (myid, snapshots, txn log).
func DataDir(dir string, id int) string { return filepath.Join(MemberDir(dir, id), "data") }

// LogPath is the file that receives member id's stdout and stderr.
func LogPath(dir string, id int) string { return filepath.Join(MemberDir(dir, id), "zkserver.log") }

// readSpec loads dir's state file; ErrNoEnsemble when there is none.
func readSpec(dir string) (*Spec, error) {
	path := filepath.Join(dir, StateFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w in %s", ErrNoEnsemble, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	var s Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("read state %s: %w", path, err)
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("read state %s: %s", path, strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return &s, nil
}

// writeSpec replaces dir's state file atomically (write, fsync, rename), so
// a concurrent reader sees the old or the new file, never half of one.
func writeSpec(dir string, s *Spec) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	b = append(b, '\n')
	f, err := os.CreateTemp(dir, StateFile+".tmp*")
	if err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	tmp := f.Name()
	_, werr := f.Write(b)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, filepath.Join(dir, StateFile))
	}
	if werr != nil {
		os.Remove(tmp)
		return fmt.Errorf("write state: %w", werr)
	}
	return nil
}

// writeMemberFiles creates member id's directories, zoo.cfg and myid.
func writeMemberFiles(dir string, s *Spec, id int) error {
	data := DataDir(dir, id)
	if err := os.MkdirAll(data, 0o755); err != nil {
		return fmt.Errorf("server %d: %w", id, err)
	}
	cfg, err := s.ZooCfg(id, data)
	if err != nil {
		return err
	}
	if err := os.WriteFile(ConfigPath(dir, id), []byte(cfg), 0o644); err != nil {
		return fmt.Errorf("server %d: %w", id, err)
	}
	if err := os.WriteFile(filepath.Join(data, "myid"), []byte(strconv.Itoa(id)+"\n"), 0o644); err != nil {
		return fmt.Errorf("server %d: %w", id, err)
	}
	return nil
}

// purge removes what an ensemble put in dir (the member directories, the
// state and lock files) and then dir itself if it is empty. Nothing else
// in dir is touched, whatever --dir was given.
func purge(dir string, s *Spec) error {
	var errs []error
	for _, m := range s.Members {
		if err := os.RemoveAll(MemberDir(dir, m.ID)); err != nil {
			errs = append(errs, err)
		}
	}
	for _, name := range []string{StateFile, lockFile} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	_ = os.Remove(dir) // only succeeds when empty
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("purge %s: %w", dir, err)
	}
	return nil
}

// lastLogLine is the last non-empty line of member id's log (at most 400
// bytes of it), for error messages; "" when there is none.
func lastLogLine(dir string, id int) string {
	f, err := os.Open(LogPath(dir, id))
	if err != nil {
		return ""
	}
	defer f.Close()
	const tail = 4096
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(st.Size()-tail, 0)
	buf := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(buf), "\n"), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			if len(l) > 400 {
				l = l[:400] + "…"
			}
			return l
		}
	}
	return ""
}
