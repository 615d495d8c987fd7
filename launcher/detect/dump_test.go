package detect

import (
	"fmt"
	"os"
	"strconv"
	"testing"
)

func TestDumpScreen(t *testing.T) {
	f := os.Getenv("DUMP")
	if f == "" {
		return
	}
	b, _ := os.ReadFile(f)
	w, _ := strconv.Atoi(os.Getenv("W"))
	s := newScreen(w, 30)
	upto := len(b)
	if v := os.Getenv("UPTO"); v != "" {
		upto, _ = strconv.Atoi(v)
	}
	s.write(b[:upto])
	for r := 0; r < s.rows; r++ {
		fmt.Printf("%2d|%s\n", r, s.text(r))
	}
}

func TestDumpIncidents(t *testing.T) {
	f := os.Getenv("INC")
	if f == "" {
		return
	}
	b, _ := os.ReadFile(f)
	w, _ := strconv.Atoi(os.Getenv("W"))
	d := New()
	d.Resize(w, 30)
	if os.Getenv("RESET") != "" {
		d.Reset()
	}
	d.Write(b)
	d.Flush()
	for {
		select {
		case inc := <-d.Incidents():
			fmt.Printf("%+v %s\n", inc, inc.Kind)
		default:
			return
		}
	}
}
