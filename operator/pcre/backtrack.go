package pcre

import (
	"fmt"
	"regexp/syntax"
	"slices"
	"unicode"
	"unicode/utf8"
)

// checkBacktracking refuses patterns on which PCRE's backtracking can take
// more than time linear in the subject (times the pattern's size). PCRE
// tries the ways a subject can be split among the pattern's variable parts
// one after another; the work explodes when a part of the subject can be
// consumed in several ways. The rule, on Go's syntax tree (a "variable
// part" is a repetition whose count varies: ?, *, +, {n,m} with n < m; an
// "ambiguous alternation" has a branch that can match the empty string or
// two branches that can start with the same rune):
//
//	A. Nested repetition. The body X of a repetition that can run more than
//	   once may hold variable parts or alternations only when every
//	   iteration is delimited: X cannot match the empty string, the runes X
//	   can start with are disjoint from every rune a variable part inside X
//	   can consume, and no alternation inside X is ambiguous. Refused:
//	   (a+)+, (a*)*, (a|ab)*, (a?a)*, (a|)+, (.*x){3}; accepted: (/[a-z]+)*,
//	   (?:foo|bar)+, (a[0-9]*|b[0-9]*)* ((a|a)* too: Go's parser reads it
//	   as a*).
//	B. In sequence. Two variable parts or ambiguous alternations that are
//	   not nested and not in different branches of one alternation, where
//	   the second can start with a rune the first can consume, must be
//	   separated by a required literal or class that one of them cannot
//	   consume (for the first: its first rune): the first then ends at one
//	   place only (the first such rune after it), or the second's runs after
//	   different separators never overlap. Refused: .*x.*, [a-z]*[a-z]*,
//	   a?a?a?aaa, (a|aa)(a|aa)b, (/[a-z]+)*[a-z]*; accepted: .*/[0-9]+,
//	   ^/v[0-9]+/.*, [a-z]+[0-9]+, https?://.*, -?[0-9]+(\.[0-9]+)?.
//
//	C. After a loop. What follows a variable repetition that can run more
//	   than once, expanded with its counts, is at most MaxAfterLoop (a rune
//	   needing multi-byte alternatives counts 4): PCRE redoes it at every
//	   position the loop gives back. Refused: .*a.{100}z, .*a[a-z]{1000}z;
//	   accepted: .*a.{16}z, /api/.*/v1/users/[0-9]+/details.
//
// A pattern that passes makes every backtracking step of PCRE move a
// boundary that no other part can move (A: iteration starts are fixed by
// their first rune; B: two overlapping parts are pinned apart by a rune
// one of them cannot take), so the work stays linear in the subject times
// the pattern. The rule is conservative: some unambiguous patterns (e.g.
// (ab|ac)*, write a(?:b|c) instead, or [a-z]?[a-z]+) are refused.
func checkBacktracking(re *syntax.Regexp) error {
	re = flatten(re)
	if err := checkNested(re); err != nil {
		return err
	}
	if err := checkSequences(re); err != nil {
		return err
	}
	return checkAfterLoops(re)
}

// MaxAfterLoop bounds the work PCRE repeats at each position a loop gives
// back: the expanded length of what follows the loop (a rune that needs
// multi-byte alternatives counts 4). With 8 KB subjects this keeps a
// request to a few milliseconds (BenchmarkHostileRegex).
const MaxAfterLoop = 256

// checkAfterLoops applies rule C: what follows a loop (a repetition that
// can run more than once with a varying count) is expanded with its
// counts, and PCRE tries it again at every position the loop gives back.
func checkAfterLoops(root *syntax.Regexp) error {
	var err error
	walk(root, func(n *syntax.Regexp) {
		if err != nil || !isVariable(n) || !runsMany(n) {
			return
		}
		total := 0
		for _, s := range siblings(root, n, true) {
			total += expanded(s)
		}
		if total > MaxAfterLoop {
			err = fmt.Errorf("regular expression repeats %s and then needs about %d characters' work after it, which nginx's PCRE would redo at every position it gives back (at most %d): lower the repetition counts after it", show(n), total, MaxAfterLoop)
		}
	})
	return err
}

// expanded is the work of matching re once, loops counted once: runes with
// their repetition counts, alternations at their longest branch.
func expanded(re *syntax.Regexp) int {
	switch re.Op {
	case syntax.OpLiteral:
		w := 0
		for _, r := range re.Rune {
			w += runeWork([]rune{r, r})
		}
		return w
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		set, _ := singleRune(re)
		return runeWork(set)
	case syntax.OpCapture, syntax.OpStar, syntax.OpPlus, syntax.OpQuest:
		return expanded(re.Sub[0])
	case syntax.OpRepeat:
		n := re.Max
		if n < 1 {
			n = max(re.Min, 1)
		}
		return n * expanded(re.Sub[0])
	case syntax.OpConcat:
		w := 0
		for _, s := range re.Sub {
			w += expanded(s)
		}
		return w
	case syntax.OpAlternate:
		w := 0
		for _, s := range re.Sub {
			w = max(w, expanded(s))
		}
		return w
	}
	return 0
}

// runeWork is 1 for a set PCRE matches with one byte test, 4 for one that
// needs multi-byte alternatives.
func runeWork(set []rune) int {
	if len(set) > 0 && set[len(set)-1] < utf8.RuneSelf {
		return 1
	}
	return 4
}

// flatten removes captures and splices nested concatenations, so that
// sequence checks see one list of items.
func flatten(re *syntax.Regexp) *syntax.Regexp {
	for re.Op == syntax.OpCapture {
		re = re.Sub[0]
	}
	c := *re
	c.Sub = nil
	for _, s := range re.Sub {
		s = flatten(s)
		if re.Op == syntax.OpConcat && s.Op == syntax.OpConcat {
			c.Sub = append(c.Sub, s.Sub...)
			continue
		}
		c.Sub = append(c.Sub, s)
	}
	return &c
}

func isRepeat(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
		return true
	}
	return false
}

// isVariable: a repetition whose count varies.
func isVariable(re *syntax.Regexp) bool {
	return isRepeat(re) && !(re.Op == syntax.OpRepeat && re.Min == re.Max)
}

// runsMany: a repetition whose body can run more than once.
func runsMany(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpStar, syntax.OpPlus:
		return true
	case syntax.OpRepeat:
		return re.Max == -1 || re.Max > 1
	}
	return false
}

func checkNested(re *syntax.Regexp) error {
	if runsMany(re) {
		x := re.Sub[0]
		var variable []rune
		simple := true
		var walkErr error
		walk(x, func(n *syntax.Regexp) {
			if isVariable(n) {
				simple = false
				variable = union(variable, chars(n))
			}
			if n.Op == syntax.OpAlternate {
				simple = false
				var seen []rune
				for _, b := range n.Sub {
					f, null := first(b)
					if null || overlaps(seen, f) {
						if walkErr == nil {
							walkErr = fmt.Errorf("regular expression %s repeats an alternation %s whose branches can match the same text; nginx's PCRE would backtrack exponentially (make the branches start differently and not match the empty string)", show(re), show(n))
						}
					}
					seen = union(seen, f)
				}
			}
		})
		if walkErr != nil {
			return walkErr
		}
		if !simple {
			f, null := first(x)
			if null || overlaps(f, variable) {
				return fmt.Errorf("regular expression %s nests a variable repetition inside a repetition without a delimiter; nginx's PCRE would backtrack exponentially (start each repeated part with a character the inner repetition cannot match, e.g. (/[a-z]+)*)", show(re))
			}
		}
	}
	for _, s := range re.Sub {
		if err := checkNested(s); err != nil {
			return err
		}
	}
	return nil
}

func checkSequences(re *syntax.Regexp) error {
	if re.Op == syntax.OpConcat {
		type loop struct {
			child int
			n     *syntax.Regexp
		}
		var loops []loop
		for i, s := range re.Sub {
			walk(s, func(n *syntax.Regexp) {
				if isVariable(n) || ambiguous(n) {
					loops = append(loops, loop{i, n})
				}
			})
		}
		for a, l1 := range loops {
			for _, l2 := range loops[a+1:] {
				if l1.child == l2.child {
					continue // checked inside that child
				}
				c1, c2 := chars(l1.n), chars(l2.n)
				if f2, _ := first(l2.n); !overlaps(c1, f2) {
					continue // the second starts where the first cannot go on
				}
				// required items between them: after l1 inside its child,
				// the children between, before l2 inside its child
				between := slices.Clone(re.Sub[l1.child+1 : l2.child])
				between = append(between, siblings(re.Sub[l1.child], l1.n, true)...)
				between = append(between, siblings(re.Sub[l2.child], l2.n, false)...)
				separated := false
				for _, s := range between {
					if separates(s, c1, c2) {
						separated = true
						break
					}
				}
				if !separated {
					return fmt.Errorf("regular expression repeats %s and then %s, which can match the same text with no required character between them that one of them cannot match; nginx's PCRE would backtrack polynomially (separate them by such a character)", show(l1.n), show(l2.n))
				}
			}
		}
	}
	for _, s := range re.Sub {
		if err := checkSequences(s); err != nil {
			return err
		}
	}
	return nil
}

// ambiguous: an alternation with a branch that can match the empty string
// or two branches that can start with the same rune.
func ambiguous(re *syntax.Regexp) bool {
	if re.Op != syntax.OpAlternate {
		return false
	}
	var seen []rune
	for _, b := range re.Sub {
		f, null := first(b)
		if null || overlaps(seen, f) {
			return true
		}
		seen = union(seen, f)
	}
	return false
}

func walk(re *syntax.Regexp, f func(*syntax.Regexp)) {
	f(re)
	for _, s := range re.Sub {
		walk(s, f)
	}
}

func show(re *syntax.Regexp) string {
	s := re.String()
	if len(s) > 40 {
		s = s[:37] + "..."
	}
	return fmt.Sprintf("%q", s)
}

// siblings returns the items of the concatenations on the way from root
// down to target that come after it (after) or before it: a match of
// target is followed (preceded) by a match of each.
func siblings(root, target *syntax.Regexp, after bool) []*syntax.Regexp {
	if root == target {
		return nil
	}
	for i, s := range root.Sub {
		if !contains(s, target) {
			continue
		}
		var out []*syntax.Regexp
		if root.Op == syntax.OpConcat {
			if after {
				out = append(out, root.Sub[i+1:]...)
			} else {
				out = append(out, root.Sub[:i]...)
			}
		}
		return append(out, siblings(s, target, after)...)
	}
	return nil
}

func contains(root, target *syntax.Regexp) bool {
	found := false
	walk(root, func(n *syntax.Regexp) { found = found || n == target })
	return found
}

// separates reports whether the required item s pins apart a part that
// consumes c1 and a later part that consumes c2: its first rune is one the
// first part cannot consume, or it has a rune the second cannot consume.
func separates(s *syntax.Regexp, c1, c2 []rune) bool {
	if s.Op == syntax.OpLiteral && len(s.Rune) > 0 {
		if !overlaps(litSet(s, s.Rune[0]), c1) {
			return true
		}
		for _, r := range s.Rune {
			if !overlaps(litSet(s, r), c2) {
				return true
			}
		}
		return false
	}
	set, ok := singleRune(s)
	return ok && (!overlaps(set, c1) || !overlaps(set, c2))
}

// singleRune returns the set of a required item that matches exactly one
// rune (a one-rune literal or a class).
func singleRune(re *syntax.Regexp) ([]rune, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		if len(re.Rune) == 1 {
			return litSet(re, re.Rune[0]), true
		}
	case syntax.OpCharClass:
		return re.Rune, true
	case syntax.OpAnyChar:
		return []rune{0, unicode.MaxRune}, true
	case syntax.OpAnyCharNotNL:
		return []rune{0, '\n' - 1, '\n' + 1, unicode.MaxRune}, true
	}
	return nil, false
}

func litSet(re *syntax.Regexp, r rune) []rune {
	if re.Flags&syntax.FoldCase != 0 {
		return foldOrbit(r)
	}
	return []rune{r, r}
}

// first returns the runes a non-empty match of re can start with (an
// over-approximation) and whether re can match the empty string.
func first(re *syntax.Regexp) ([]rune, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		if len(re.Rune) == 0 {
			return nil, true
		}
		return litSet(re, re.Rune[0]), false
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		s, _ := singleRune(re)
		return s, false
	case syntax.OpCapture:
		return first(re.Sub[0])
	case syntax.OpStar, syntax.OpQuest:
		f, _ := first(re.Sub[0])
		return f, true
	case syntax.OpPlus:
		return first(re.Sub[0])
	case syntax.OpRepeat:
		if re.Max == 0 {
			return nil, true
		}
		f, null := first(re.Sub[0])
		return f, null || re.Min == 0
	case syntax.OpConcat:
		var set []rune
		for _, s := range re.Sub {
			f, null := first(s)
			set = union(set, f)
			if !null {
				return set, false
			}
		}
		return set, true
	case syntax.OpAlternate:
		var set []rune
		anyNull := false
		for _, s := range re.Sub {
			f, null := first(s)
			set = union(set, f)
			anyNull = anyNull || null
		}
		return set, anyNull
	case syntax.OpNoMatch:
		return nil, false
	}
	return nil, true // empty-width assertions, empty match
}

// chars returns every rune a match of re can consume.
func chars(re *syntax.Regexp) []rune {
	var set []rune
	walk(re, func(n *syntax.Regexp) {
		switch n.Op {
		case syntax.OpLiteral:
			for _, r := range n.Rune {
				set = union(set, litSet(n, r))
			}
		case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
			s, _ := singleRune(n)
			set = union(set, s)
		}
	})
	return set
}

// union merges two range sets (pairs of inclusive bounds).
func union(a, b []rune) []rune {
	if len(b) == 0 {
		return a
	}
	type rg struct{ lo, hi rune }
	var rs []rg
	for i := 0; i+1 < len(a); i += 2 {
		rs = append(rs, rg{a[i], a[i+1]})
	}
	for i := 0; i+1 < len(b); i += 2 {
		rs = append(rs, rg{b[i], b[i+1]})
	}
	slices.SortFunc(rs, func(x, y rg) int { return int(x.lo - y.lo) })
	var out []rune
	for _, r := range rs {
		if n := len(out); n > 0 && r.lo <= out[n-1]+1 {
			out[n-1] = max(out[n-1], r.hi)
			continue
		}
		out = append(out, r.lo, r.hi)
	}
	return out
}

func overlaps(a, b []rune) bool {
	i, j := 0, 0
	for i+1 < len(a) && j+1 < len(b) {
		if a[i+1] < b[j] {
			i += 2
		} else if b[j+1] < a[i] {
			j += 2
		} else {
			return true
		}
	}
	return false
}
