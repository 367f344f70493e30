# check.awk EXPECTATION REPORT (integrity-harness, harness/repro/files/check.awk): the model's answer for one
# command, stored when the run was judged, against what the command printed now (ih-io's JSON lines, or
# `dmsetup status`). Prints the first disagreement and exits 1; exits 3 when the report lacks what it
# needs (the command did not run as the harness's did); 0 when they agree. The data of the blocks that
# must read back is compared by lib.sh (ih_check).
function num(line, key,   m) {
	if (!match(line, "\"" key "\":-?[0-9]+")) return ""
	m = substr(line, RSTART, RLENGTH); sub(/^[^:]*:/, "", m); return m + 0
}
function str(line, key,   m) {
	if (!match(line, "\"" key "\":\"[^\"]*\"")) return ""
	m = substr(line, RSTART, RLENGTH); sub(/^[^:]*:"/, "", m); sub(/"$/, "", m); return m
}
function member(e, list,   n, a, i) {
	n = split(list, a, ",")
	for (i = 1; i <= n; i++) if (a[i] + 0 == e + 0) return 1
	return 0
}
function say(kind, block, sector, expected, found) {
	printf "%s", kind
	if (block != "") printf " block %d (sector %d)", block, sector
	printf ": expected %s, found %s\n", expected, found
	verdict = 1
	exit 1
}
function missing(what) { print "the command reported nothing for " what; verdict = 3; exit 3 }

FNR == NR {
	if ($1 == "read") { kind = "read"; off = $2; len = $3; bs = $4; bsz = $5 }
	else if ($1 == "write") { kind = "write"; off = $2; len = $3; bs = $4; want = $5 }
	else if ($1 == "unaligned") { kind = "unaligned"; off = $2; want = $3 }
	else if ($1 == "discard" || $1 == "flush") { kind = $1; want = $2 }
	else if ($1 == "status") { kind = "status"; lo = $3; hi = $4 }
	else if ($1 == "fail") fail[$2] = $3
	else if ($1 == "block") must[$2] = $3
	next
}
kind == "status" { if (!got && NF >= 4) { seen = $4; got = 1 } next }
{
	op = str($0, "op")
	if (op == "") next
	o = num($0, "off"); e = num($0, "errno")
	if (op == "read") { rd[o] = e; short[o] = ($0 ~ /"ok":false/ && e == 0) }
	else if (op == "block") bl[o] = e
	else if (op == "write" && $0 ~ /"ok":false/) { wfail++; if (e != want && bad == "") { bad = o; bade = e } }
	else if (op == kind) { res = e; got = 1 }
}
END {
	if (verdict) exit verdict
	if (kind == "read") {
		n = bs / bsz
		for (o = off; o < off + len; o += bs) {
			if (!(o in rd)) missing("offset " o)
			e = rd[o]; first = o / bsz
			if (short[o]) say("short-read", first, o / 512, bs " bytes read", "end of device")
			if (!(o in fail) && e != 0) say("false-alarm", first, o / 512, bs " bytes read", "errno " e)
			if ((o in fail) && e == 0) {
				fb = first
				for (b = first; b < first + n; b++) if (b in must) { fb = b; break }
				say("silent-acceptance", fb, fb * bsz / 512, "errno " fail[o], "read succeeded")
			}
			if ((o in fail) && !member(e, fail[o])) say("wrong-errno", first, o / 512, "errno " fail[o], "errno " e)
			if (e == 0 || n == 1) continue
			for (b = 0; b < n; b++) {
				blk = first + b; boff = o + b * bsz
				be = (boff in bl) ? bl[boff] : 0
				if ((blk in must) && be == 0) say("silent-acceptance", blk, boff / 512, "errno " must[blk], "block read")
				if (!(blk in must) && be != 0) say("false-alarm", blk, boff / 512, "block reads", "errno " be)
				if ((blk in must) && be != must[blk]) say("wrong-errno", blk, boff / 512, "errno " must[blk], "errno " be)
			}
		}
	} else if (kind == "write") {
		chunks = int((len + bs - 1) / bs)
		if (want == 0 && wfail > 0) say("write-failed", "", "", "write succeeds", "errno " bade " at offset " bad)
		if (want != 0 && wfail < chunks) say("write-accepted", "", "", "all " chunks " write(s) fail with errno " want, (chunks - wfail) " succeeded")
		if (want != 0 && bad != "") say("wrong-errno", "", "", "errno " want, "errno " bade " at offset " bad)
	} else if (kind == "unaligned") {
		if (!(off in rd)) missing("offset " off)
		if (rd[off] != want) say("unaligned-io", "", "", want ? "errno " want : "read succeeds", rd[off] ? "errno " rd[off] : "read succeeded")
	} else if (kind == "discard" || kind == "flush") {
		if (!got) missing(kind)
		if (res != want) say(kind, "", "", want ? "errno " want : kind " succeeds", res ? "errno " res : kind " succeeded")
	} else if (kind == "status") {
		if (!got) missing("the mismatch counter")
		if (seen < lo || seen > hi) say("mismatch-counter", "", "", lo == hi ? lo : lo ".." hi, seen)
	}
	exit 0
}
