package password

import (
	_ "embed"
	"strings"
	"sync"
)

// The blocklist of common passwords, in two files so the provenance of
// each stays clear: common-passwords.txt is the SecLists top 10,000 (MIT,
// see its header), common-passwords-local.txt portti's own Finnish and
// Swedish additions. Both are one lower-case NFC entry per line, with
// comment lines starting with "#".
var (
	//go:embed common-passwords.txt
	commonPasswords string
	//go:embed common-passwords-local.txt
	commonPasswordsLocal string
)

var (
	commonOnce sync.Once
	commonSet  map[string]struct{}
)

// isCommon reports whether folded, an NFC lower-cased password, is in the
// blocklist. The set is built on first use; its keys are substrings of the
// embedded files, so it costs the map and not copies of the entries.
func isCommon(folded string) bool {
	commonOnce.Do(func() {
		commonSet = make(map[string]struct{}, 15000)
		addLines(commonSet, commonPasswords)
		addLines(commonSet, commonPasswordsLocal)
	})
	_, ok := commonSet[folded]
	return ok
}

func addLines(set map[string]struct{}, list string) {
	for line := range strings.Lines(list) {
		line = strings.TrimRight(line, "\r\n")
		if line == "" || line[0] == '#' {
			continue
		}
		set[line] = struct{}{}
	}
}
