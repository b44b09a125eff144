package parallel

import (
	"errors"
	"fmt"
	"testing"
)

func TestForEachRunsAllAndReturnsTheFirstError(t *testing.T) {
	for _, n := range []int{0, 1, 7, 1000} {
		done := make([]int, n)
		err := ForEach(n, func(i int) error {
			done[i]++
			if i%300 == 299 {
				return fmt.Errorf("item %d", i)
			}
			return nil
		})
		for i, d := range done {
			if d != 1 {
				t.Fatalf("n=%d: item %d ran %d times", n, i, d)
			}
		}
		want := "<nil>"
		if n > 299 {
			want = "item 299"
		}
		if fmt.Sprint(err) != want {
			t.Errorf("n=%d: error %v, want %s", n, err, want)
		}
	}
	if err := ForEach(3, func(i int) error { return errors.New("x") }); err == nil {
		t.Error("no error")
	}
}
