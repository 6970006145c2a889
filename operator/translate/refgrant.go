package translate

// grantRef is one side of a cross-namespace reference.
type grantRef struct {
	Group     string
	Kind      string
	Namespace string
	Name      string
}

// referenceAllowed reports whether from may reference to. Same-namespace
// references are always allowed; otherwise a ReferenceGrant in the target
// namespace must list from's (group, kind, namespace) and to's (group,
// kind, optional name).
func (ix *index) referenceAllowed(from, to grantRef) bool {
	if from.Namespace == to.Namespace {
		return true
	}
	for _, g := range ix.grants[to.Namespace] {
		fromOK := false
		for _, f := range g.Spec.From {
			if string(f.Group) == from.Group && string(f.Kind) == from.Kind && string(f.Namespace) == from.Namespace {
				fromOK = true
				break
			}
		}
		if !fromOK {
			continue
		}
		for _, t := range g.Spec.To {
			if string(t.Group) == to.Group && string(t.Kind) == to.Kind && (t.Name == nil || *t.Name == "" || string(*t.Name) == to.Name) {
				return true
			}
		}
	}
	return false
}
