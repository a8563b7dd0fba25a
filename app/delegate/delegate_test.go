package delegate

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCallRunsHandlersInOrderAndStopsAtError(t *testing.T) {
	d := New()
	var got []string
	d.Register("e", func(_ context.Context, data any) error { got = append(got, "1:"+data.(string)); return nil })
	d.Register("e", func(_ context.Context, data any) error {
		got = append(got, "2:"+data.(string))
		return errors.New("boom")
	})
	d.Register("e", func(_ context.Context, data any) error { got = append(got, "3"); return nil })
	err := d.Call(context.Background(), "e", "x")
	require.EqualError(t, err, "e: boom")
	require.Equal(t, []string{"1:x", "2:x"}, got)
	require.ErrorContains(t, d.Call(context.Background(), "unknown", nil), "no handler")
}
