package testenv

import (
	"bytes"
	"sync"
)

// SyncBuffer is a log sink that many goroutines may write to at once.
// With Max set it keeps only the first Max bytes (and still reports every
// write as complete), so that a log written for the whole of a long test
// stays bounded.
type SyncBuffer struct {
	Max int

	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Max <= 0 {
		return s.b.Write(p)
	}
	if room := s.Max - s.b.Len(); room > 0 {
		s.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
