package lifecycle

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
)

// procStat is what this package reads about a process from
// /proc/<pid>/stat: the process identity token and the two fields it checks
// beside it.
type procStat struct {
	// identity is the contract's token, "linux:<boot_id>:<starttime>".
	identity string
	// state is field 3, the state of the thread-group leader: R, S, D, Z
	// (zombie: exited, not yet reaped), X, ...
	state byte
	// ppid is field 4, the parent's process ID.
	ppid int
}

// leaderExited reports whether the process's thread-group leader, the
// thread whose id is the pid, has exited: Z (a zombie) or X. That is not
// whether the process has exited: a leader that called exit(2) while other
// threads run shows Z until they all exit. Only the pidfd tells (see
// exited).
func (s procStat) leaderExited() bool { return s.state == 'Z' || s.state == 'X' || s.state == 'x' }

var errMalformedStat = errors.New("lifecycle: malformed /proc/<pid>/stat")

// parseStat reads the state (field 3), ppid (field 4) and starttime (field
// 22) from the content of /proc/<pid>/stat. Field 2, the command name, is
// in parentheses and may itself hold spaces and parentheses, so the fields
// are counted from the last ')'.
func parseStat(data []byte) (state byte, ppid int, starttime string, err error) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, 0, "", errMalformedStat
	}
	fields := strings.Fields(string(data[i+1:])) // fields[0] is field 3
	if len(fields) < 20 || len(fields[0]) != 1 {
		return 0, 0, "", errMalformedStat
	}
	ppid, err = strconv.Atoi(fields[1])
	if err != nil {
		return 0, 0, "", errMalformedStat
	}
	starttime = fields[19]
	if _, err := strconv.ParseUint(starttime, 10, 64); err != nil || (len(starttime) > 1 && starttime[0] == '0') {
		return 0, 0, "", errMalformedStat
	}
	return fields[0][0], ppid, starttime, nil
}
