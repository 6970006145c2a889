package translate

import (
	"reflect"
	"testing"
)

func TestHostnameIntersection(t *testing.T) {
	tests := []struct {
		listener string
		route    []string
		want     []string
	}{
		{"", nil, []string{""}},
		{"", []string{"a.example.com"}, []string{"a.example.com"}},
		{"a.example.com", nil, []string{"a.example.com"}},
		{"a.example.com", []string{"a.example.com", "b.example.com"}, []string{"a.example.com"}},
		{"*.example.com", []string{"a.example.com", "a.b.example.com", "example.com", "x.org"}, []string{"a.b.example.com", "a.example.com"}},
		{"a.example.com", []string{"*.example.com"}, []string{"a.example.com"}},
		{"*.example.com", []string{"*.a.example.com", "*.com"}, []string{"*.a.example.com", "*.example.com"}},
		{"*.example.com", []string{"*.example.org"}, nil},
	}
	for _, tc := range tests {
		if got := intersectHostnames(tc.listener, tc.route); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("intersect(%q, %v) = %v, want %v", tc.listener, tc.route, got, tc.want)
		}
	}
}
