package server

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zkgo/zkgo/server/apachefile"
	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/storage"
	"github.com/zkgo/zkgo/server/tree"
	"github.com/zkgo/zkgo/server/txn"
	"github.com/zkgo/zkgo/server/wire"
)

// ConvertReport says what ConvertApache did.
type ConvertReport struct {
	Snapshot     string // the Apache snapshot the state starts from
	SnapshotZxid int64
	Znodes       int
	Sessions     int
	Skipped      []string // newer snapshots that did not read (corrupt)
	Logs         []string // the txn logs read
	Txns         int      // txns after the snapshot, now in zkgo's log
	LastZxid     int64
	Torn         bool     // a log ended in a record cut short (a crash)
	Backup       []string // where Apache's files were moved
}

// apacheBackupDir is where ConvertApache moves Apache's files, under
// dataDir (and dataLogDir).
const apacheBackupDir = "apache-zookeeper-data"

// convertBatch is how many txns one log append takes.
const convertBatch = 4096

// ConvertApache takes over the data directories of cfg from Apache
// ZooKeeper 3.8: it reads the newest of Apache's snapshots that checks out
// (falling back to older ones, as Apache does) and the txns of its logs
// after it, writes them as zkgo's snapshot and txn log (the snapshot as
// Apache's fuzzy one, labelled with its zxid, so that zkserver replays the
// same txns over it at start-up as Apache would), and moves Apache's files
// aside into apacheBackupDir. Sessions, with their ids and passwords, carry
// over: clients of Apache can resume them on zkserver. An ensemble member's
// currentEpoch and acceptedEpoch (files in version-2) carry over too.
//
// Nothing in the data directories changes until zkgo's files are written
// and synced (in a directory beside version-2); then Apache's files are
// moved (renames) and zkgo's put in their place. A failure before that
// leaves the directories as they were.
func ConvertApache(cfg *config.Config) (*ConvertReport, error) {
	snapDir, walDir := storage.Dirs(cfg.DataDir, cfg.DataLogDir)
	files, err := apachefile.Find(snapDir, walDir)
	if err != nil {
		return nil, err
	}
	if len(files.Snapshots) == 0 && len(files.Logs) == 0 {
		return nil, fmt.Errorf("no Apache ZooKeeper data files in %s", strings.Join(uniq(snapDir, walDir), " or "))
	}
	if err := checkNoZkgoFiles(snapDir, walDir); err != nil {
		return nil, err
	}

	rep := &ConvertReport{}
	var snap *apachefile.Snapshot
	for _, p := range files.Snapshots {
		s, err := apachefile.ReadSnapshot(p)
		if err == nil {
			snap = s
			break
		}
		if !errors.Is(err, apachefile.ErrCorrupt) {
			return nil, err
		}
		rep.Skipped = append(rep.Skipped, err.Error())
	}
	if snap == nil {
		// Apache's first start writes snapshot.0, so a log without any
		// snapshot that reads is not a history we can start from.
		return nil, fmt.Errorf("no Apache snapshot in %s reads: %s", snapDir, strings.Join(rep.Skipped, "; "))
	}
	rep.Snapshot, rep.SnapshotZxid = snap.Path, snap.Zxid
	rep.Znodes, rep.Sessions, rep.LastZxid = len(snap.Nodes), len(snap.Sessions), snap.Zxid

	var entries []storage.Entry
	for _, p := range apachefile.LogsAfter(files.Logs, snap.Zxid) {
		torn, err := apachefile.ReadLog(p, func(t *txn.Txn) error {
			if t.Zxid <= rep.LastZxid {
				return nil // in the snapshot already, or before it
			}
			entries = append(entries, storage.Entry{Zxid: t.Zxid, Data: t.Marshal()})
			rep.LastZxid = t.Zxid
			return nil
		})
		if err != nil {
			return nil, err
		}
		rep.Logs = append(rep.Logs, p)
		// A record cut short ends its log, in any of them: Apache reads
		// on in the next file, which it began after the crash that tore
		// it (its txns follow the last whole one).
		rep.Torn = rep.Torn || torn
	}
	rep.Txns = len(entries)

	epochs, epochFiles, err := readEpochs(snapDir)
	if err != nil {
		return nil, err
	}

	// zkgo's files, written beside version-2 first.
	// Under dataDir and dataLogDir (the version-2 directories' parents).
	tmpData, tmpLog := filepath.Join(filepath.Dir(snapDir), "zkgo-convert.tmp"), filepath.Join(filepath.Dir(walDir), "zkgo-convert.tmp")
	for _, d := range uniq(tmpData, tmpLog) {
		if err := os.RemoveAll(d); err != nil {
			return nil, err
		}
	}
	defer func() {
		for _, d := range uniq(tmpData, tmpLog) {
			_ = os.RemoveAll(d)
		}
	}()
	st, err := storage.Open(tmpData, tmpLog, storage.Options{ForceSync: true})
	if err != nil {
		return nil, err
	}
	err = writeConverted(st, snap, entries, epochs)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}

	// Apache's files aside, then zkgo's in place.
	moves := map[string]string{}
	apache := append(append(files.Snapshots, files.Logs...), epochFiles...)
	for p, to := range backupMoves(apache, apacheBackupDir) {
		moves[p] = to
		if dir := filepath.Dir(to); !slices.Contains(rep.Backup, dir) {
			rep.Backup = append(rep.Backup, dir)
		}
	}
	tmpSnap, tmpWal := storage.Dirs(tmpData, tmpLog)
	for _, v2 := range []struct{ from, to string }{{tmpSnap, snapDir}, {tmpWal, walDir}} {
		ents, err := os.ReadDir(v2.from)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		for _, e := range ents {
			moves[filepath.Join(v2.from, e.Name())] = filepath.Join(v2.to, e.Name())
		}
	}
	for _, p := range apache { // Apache's first
		if err := moveFile(p, moves[p]); err != nil {
			return nil, err
		}
		delete(moves, p)
	}
	for from, to := range moves {
		if err := moveFile(from, to); err != nil {
			return nil, err
		}
	}
	for _, d := range uniq(snapDir, walDir) {
		if err := storage.SyncDir(d); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// writeConverted writes snap as zkgo's snapshot, the txns after it into
// the log, and the epochs.
func writeConverted(st *storage.Store, snap *apachefile.Snapshot, entries []storage.Entry, epochs map[string]int64) error {
	sessions := make([]SessionInfo, len(snap.Sessions))
	for i, s := range snap.Sessions {
		sessions[i] = SessionInfo{ID: s.ID, Timeout: time.Duration(s.Timeout) * time.Millisecond}
	}
	var d *ZxidDigest
	if snap.Digest != nil && snap.Digest.Version == tree.DigestVersion && snap.Digest.Digest != 0 {
		// Apache's digest is the same function of the tree as zkgo's:
		// recovery checks it once it has replayed to its zxid. (The
		// snapshot.0 of a first start carries 0: none computed yet.)
		d = &ZxidDigest{Zxid: snap.Digest.Zxid, Version: snap.Digest.Version, Digest: snap.Digest.Digest}
	}
	err := st.WriteSnapshot(snap.Zxid, func(w io.Writer) error {
		return encodeSnapshotBody(w, sessions, func(node func(string, *tree.Node, []wire.ACL) error, between func() error) error {
			for _, n := range snap.Nodes {
				if err := wire.CheckStoredPath(n.Path); err != nil {
					return fmt.Errorf("%s: znode %q: %w", snap.Path, n.Path, err)
				}
				if err := node(n.Path, n.Node, n.ACL); err != nil {
					return err
				}
				if err := between(); err != nil {
					return err
				}
			}
			return nil
		}, func() *ZxidDigest { return d })
	})
	if err != nil {
		return err
	}
	for len(entries) > 0 {
		n := min(len(entries), convertBatch)
		if err := st.Append(entries[:n]); err != nil {
			return err
		}
		entries = entries[n:]
	}
	for _, k := range []string{"acceptedEpoch", "currentEpoch"} {
		if v, ok := epochs[k]; ok {
			if err := st.SetInt(k, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// readEpochs reads an ensemble member's currentEpoch and acceptedEpoch
// files (a decimal number each, in the snapshot directory, where Apache's
// QuorumPeer keeps them), those that exist, and returns their paths.
func readEpochs(snapDir string) (map[string]int64, []string, error) {
	out := map[string]int64{}
	var paths []string
	for _, k := range []string{"acceptedEpoch", "currentEpoch"} {
		p := filepath.Join(snapDir, k)
		b, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %q is not an epoch", p, strings.TrimSpace(string(b)))
		}
		out[k] = v
		paths = append(paths, p)
	}
	return out, paths, nil
}

// checkNoZkgoFiles refuses directories that hold zkgo's own files beside
// Apache's: converting would mix two histories.
func checkNoZkgoFiles(dirs ...string) error {
	for _, dir := range uniq(dirs...) {
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			n := e.Name()
			p := filepath.Join(dir, n)
			// A snapshot is zkgo's by its magic: one Apache left cut short
			// (killed while writing it) is Apache's, passed over below.
			zkgo := n == "log.bolt" || strings.HasPrefix(n, "wal.") ||
				(strings.HasPrefix(n, "snapshot.") && storage.IsSnapshotFile(p))
			if zkgo {
				return fmt.Errorf("%s is zkgo's: %s holds zkgo's data beside Apache's; move one of them away", p, dir)
			}
		}
	}
	return nil
}

// backupMoves says where each of files (in <dir>/version-2) goes aside:
// <dir>/<name>, or <dir>/<name>.N for the first N where none of them is
// taken (a second round of conversions keeps the first round's files).
func backupMoves(files []string, name string) map[string]string {
	out := map[string]string{}
	byDir := map[string][]string{}
	for _, p := range files {
		parent := filepath.Dir(filepath.Dir(p))
		byDir[parent] = append(byDir[parent], p)
	}
	for parent, ps := range byDir {
		for n := 0; ; n++ {
			dir := filepath.Join(parent, name)
			if n > 0 {
				dir += "." + strconv.Itoa(n)
			}
			free := true
			for _, p := range ps {
				if _, err := os.Lstat(filepath.Join(dir, filepath.Base(p))); err == nil {
					free = false
					break
				}
			}
			if free {
				for _, p := range ps {
					out[p] = filepath.Join(dir, filepath.Base(p))
				}
				break
			}
		}
	}
	return out
}

func moveFile(from, to string) error {
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	if _, err := os.Stat(to); err == nil {
		return fmt.Errorf("move %s: %s exists", from, to)
	}
	return os.Rename(from, to)
}

// uniq returns its arguments without repeats, in order.
func uniq(s ...string) []string {
	var out []string
	for _, x := range s {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// zkgoBackupDir is where ConvertToApache moves zkgo's files, under
// dataDir (and dataLogDir).
const zkgoBackupDir = "zkgo-data"

// ToApacheReport says what ConvertToApache did.
type ToApacheReport struct {
	Snapshot string // the Apache snapshot written
	Zxid     int64
	Znodes   int
	Sessions int
	Backup   []string // where zkgo's files were moved
}

// ConvertToApache is ConvertApache the other way: it recovers zkgo's
// state from the data directories of cfg (the newest snapshot and the log
// after it) and writes it as one Apache ZooKeeper 3.8 snapshot,
// snapshot.<last zxid>, with the sessions, the tree digest and, for an
// ensemble member, currentEpoch and acceptedEpoch; zkgo's files move to
// zkgoBackupDir. Apache starts from that snapshot as from its own. Every
// member of an ensemble is converted after a clean stop of all of them:
// a member's log may end in txns its leader had not committed, which
// Apache could no longer truncate once they are in a snapshot.
func ConvertToApache(cfg *config.Config) (*ToApacheReport, error) {
	snapDir, walDir := storage.Dirs(cfg.DataDir, cfg.DataLogDir)
	if files, err := apachefile.Find(snapDir, walDir); err != nil {
		return nil, err
	} else if len(files.Snapshots)+len(files.Logs) > 0 {
		return nil, fmt.Errorf("%s holds Apache ZooKeeper's files already", snapDir)
	}
	zkgoFiles, err := listZkgoFiles(snapDir, walDir)
	if err != nil {
		return nil, err
	}
	if len(zkgoFiles) == 0 {
		return nil, fmt.Errorf("no zkgo data in %s", strings.Join(uniq(snapDir, walDir), " or "))
	}

	// Recover as a standalone server does: snapshot, then the whole log.
	solo := *cfg
	solo.Servers = nil
	s, err := New(&solo, nil)
	if err != nil {
		return nil, err
	}
	snap := &apachefile.Snapshot{Zxid: s.LastZxid()}
	s.tree.RLock()
	err = s.tree.Walk(func(p string, n *tree.Node) error {
		c := *n
		snap.Nodes = append(snap.Nodes, apachefile.Node{Path: p, Node: &c, ACL: s.tree.ACL(n)})
		return nil
	})
	if s.tree.KeepsDigest() {
		snap.Digest = &apachefile.Digest{Zxid: snap.Zxid, Version: tree.DigestVersion, Digest: s.tree.Digest()}
	}
	s.tree.RUnlock()
	for _, si := range s.sessions.list() {
		if !si.Local {
			snap.Sessions = append(snap.Sessions, apachefile.Session{ID: si.ID, Timeout: int32(si.Timeout / time.Millisecond)})
		}
	}
	epochs := map[string]int64{}
	for _, k := range []string{"acceptedEpoch", "currentEpoch"} {
		if v, err := s.store.GetInt(k); err == nil && v > 0 {
			epochs[k] = v
		}
	}
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	// Close may have written a snapshot: list the files again.
	if zkgoFiles, err = listZkgoFiles(snapDir, walDir); err != nil {
		return nil, err
	}

	rep := &ToApacheReport{Zxid: snap.Zxid, Znodes: len(snap.Nodes), Sessions: len(snap.Sessions)}
	tmp := filepath.Join(filepath.Dir(snapDir), "apache-convert.tmp")
	if err := os.RemoveAll(tmp); err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, err
	}
	name := fmt.Sprintf("snapshot.%x", snap.Zxid)
	if err := writeSyncedFile(filepath.Join(tmp, name), func(w io.Writer) error { return apachefile.WriteSnapshot(w, snap) }); err != nil {
		return nil, err
	}
	for k, v := range epochs {
		if err := writeSyncedFile(filepath.Join(tmp, k), func(w io.Writer) error {
			_, err := io.WriteString(w, strconv.FormatInt(v, 10))
			return err
		}); err != nil {
			return nil, err
		}
	}
	aside := backupMoves(zkgoFiles, zkgoBackupDir)
	for _, p := range zkgoFiles {
		to := aside[p]
		if err := moveFile(p, to); err != nil {
			return nil, err
		}
		if dir := filepath.Dir(to); !slices.Contains(rep.Backup, dir) {
			rep.Backup = append(rep.Backup, dir)
		}
	}
	ents, err := os.ReadDir(tmp)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		if err := moveFile(filepath.Join(tmp, e.Name()), filepath.Join(snapDir, e.Name())); err != nil {
			return nil, err
		}
	}
	for _, d := range uniq(snapDir, walDir) {
		if err := storage.SyncDir(d); err != nil {
			return nil, err
		}
	}
	rep.Snapshot = filepath.Join(snapDir, name)
	return rep, nil
}

// listZkgoFiles lists zkgo's files in the version-2 directories: its
// snapshots, log.bolt, WAL segments, and what else it keeps there.
func listZkgoFiles(dirs ...string) ([]string, error) {
	var out []string
	for _, dir := range uniq(dirs...) {
		ents, err := os.ReadDir(dir)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			if e.Type().IsRegular() {
				out = append(out, filepath.Join(dir, e.Name()))
			}
		}
	}
	return out, nil
}

func writeSyncedFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
