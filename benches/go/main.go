// Command workloads runs gogreen's benchmark workloads on the Go runtime, so that
// benches/compare.py can put Go's figures beside examples/workloads.rs on one machine
// in one run.
//
// Usage: workloads WORKLOAD [N]
//
// Each workload prints the same `name key=value ...` line as its Rust twin: same
// names, same default N, same figures, and its hot loop does the same work as the
// project's reference Go program (the one its goals were measured against; callgrind
// counts the same instructions for both). Change a workload here and in
// examples/workloads.rs together, or the comparison no longer compares like with like.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// A workload: its default size, and what it runs for a given size.
type workload struct {
	defaultN int
	run      func(n int)
}

var workloads = map[string]workload{
	"spawn_join": {1_000_000, spawnJoin},
	"ping_pong":  {1_000_000, pingPong},
	"yield":      {1_000_000, yieldSwitch},
	"parked":     {1_000_000, parked},
	"sieve":      {2_000, sieve},
	"mpmc":       {10_000_000, mpmc},
	"select4":    {1_000_000, select4},
	"chain":      {100_000, chain},
	"mutex":      {10_000_000, mutexContended},
}

// The order the usage line lists them in.
var names = []string{"spawn_join", "ping_pong", "yield", "parked", "sieve", "mpmc", "select4", "chain", "mutex"}

// peakRSSKB is the process's peak resident set, in KiB (Linux reports ru_maxrss so).
func peakRSSKB() int64 {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return -1
	}
	return usage.Maxrss
}

// report prints the one line every timed workload ends with; `per` names the unit
// the time is divided over (task, roundtrip, ...).
func report(name string, n int, elapsed time.Duration, per string) {
	ns := float64(elapsed.Nanoseconds())
	fmt.Printf("%s n=%d total_ms=%.1f ns_per_%s=%.1f maxrss_kb=%d\n",
		name, n, ns/1e6, per, ns/float64(n), peakRSSKB())
}

// spawnJoin: start n goroutines that only say they are done; wait for all of them.
func spawnJoin(n int) {
	var done sync.WaitGroup
	start := time.Now()
	done.Add(n)
	for i := 0; i < n; i++ {
		go func() { done.Done() }()
	}
	done.Wait()
	report("spawn_join", n, time.Since(start), "task")
}

// pingPong: n round trips of a value between two goroutines over two unbuffered
// channels; the echoing side adds one.
func pingPong(n int) {
	ping := make(chan int)
	pong := make(chan int)
	go func() {
		defer close(pong)
		for v := range ping {
			pong <- v + 1
		}
	}()
	start := time.Now()
	for i := 0; i < n; i++ {
		ping <- i
		<-pong
	}
	close(ping)
	report("ping_pong", n, time.Since(start), "roundtrip")
}

// yieldSwitch: two goroutines on one processor yield n times each; every yield is
// a switch to the other.
func yieldSwitch(n int) {
	old := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(old)
	var done sync.WaitGroup
	done.Add(2)
	start := time.Now()
	for k := 0; k < 2; k++ {
		go func() {
			defer done.Done()
			for i := 0; i < n; i++ {
				runtime.Gosched()
			}
		}()
	}
	done.Wait()
	report("yield", 2*n, time.Since(start), "switch")
}

// parked: n goroutines blocked at once on one channel (the memory a parked
// goroutine costs), then all released by closing it.
func parked(n int) {
	gate := make(chan struct{})
	var running, finished sync.WaitGroup
	running.Add(n)
	finished.Add(n)
	start := time.Now()
	for i := 0; i < n; i++ {
		go func() {
			running.Done()
			<-gate
			finished.Done()
		}()
	}
	// Each goroutine has run up to its receive: the peak holds all n parked.
	running.Wait()
	spawned := time.Since(start)
	rss := peakRSSKB()
	close(gate)
	finished.Wait()
	total := time.Since(start)
	fmt.Printf("parked n=%d spawn_ms=%.1f total_ms=%.1f maxrss_kb=%d bytes_per_task=%.0f\n",
		n, float64(spawned.Nanoseconds())/1e6, float64(total.Nanoseconds())/1e6, rss,
		float64(rss*1024)/float64(n))
}

// chain: n goroutines in a line, each waiting for a value from its right and passing
// it plus one to its left; a last one feeds 0 in at the right end (the shape of Go's
// test/chan/goroutines.go). Measures creation plus one hand-off per goroutine.
func chain(n int) {
	start := time.Now()
	first := make(chan int)
	left := first
	for i := 0; i < n; i++ {
		right := make(chan int)
		go func(to chan<- int, from <-chan int) {
			to <- 1 + <-from
		}(left, right)
		left = right
	}
	go func(end chan<- int) { end <- 0 }(left)
	if got := <-first; got != n {
		fmt.Printf("chain: got %d want %d\n", got, n)
		os.Exit(1)
	}
	report("chain", n, time.Since(start), "task")
}

// sieve: the concurrent prime sieve, one filter goroutine per prime found, until n
// primes came out of the end of the chain.
func sieve(n int) {
	start := time.Now()
	numbers := make(chan int)
	go func(out chan<- int) {
		for i := 2; ; i++ {
			out <- i
		}
	}(numbers)
	prime := 0
	for found := 0; found < n; found++ {
		prime = <-numbers
		sifted := make(chan int)
		go func(in <-chan int, out chan<- int, p int) {
			for {
				if v := <-in; v%p != 0 {
					out <- v
				}
			}
		}(numbers, sifted, prime)
		numbers = sifted
	}
	report("sieve", n, time.Since(start), "prime")
	fmt.Printf("sieve last_prime=%d\n", prime)
}

// mpmc: 4 producers send n/4 values each into one channel of capacity 1024; 4
// consumers drain it until it is closed.
func mpmc(n int) {
	const producers, consumers = 4, 4
	queue := make(chan int, 1024)
	var sent, drained sync.WaitGroup
	var sums [consumers]int
	start := time.Now()
	sent.Add(producers)
	for i := 0; i < producers; i++ {
		go func() {
			for v := 0; v < n/producers; v++ {
				queue <- v
			}
			sent.Done()
		}()
	}
	drained.Add(consumers)
	for i := 0; i < consumers; i++ {
		i := i
		go func() {
			for v := range queue {
				sums[i] += v
			}
			drained.Done()
		}()
	}
	sent.Wait()
	close(queue)
	drained.Wait()
	report("mpmc", n, time.Since(start), "msg")
}

// select4: one goroutine receives through a select over 4 unbuffered channels, each
// fed n/4 values by a goroutine of its own.
func select4(n int) {
	const arms = 4
	var in [arms]chan int
	for k := range in {
		in[k] = make(chan int)
		go func(out chan<- int) {
			for v := 0; v < n/arms; v++ {
				out <- v
			}
		}(in[k])
	}
	start := time.Now()
	for i := 0; i < n/arms*arms; i++ {
		select {
		case <-in[0]:
		case <-in[1]:
		case <-in[2]:
		case <-in[3]:
		}
	}
	report("select4", n, time.Since(start), "recv")
}

// mutexContended: 8 goroutines add one to a shared counter under one sync.Mutex, n
// additions in all: waiters must park and be handed the lock without collapse.
func mutexContended(n int) {
	const workers = 8
	var (
		lock    sync.Mutex
		counter int
		done    sync.WaitGroup
	)
	done.Add(workers)
	start := time.Now()
	for w := 0; w < workers; w++ {
		go func() {
			for i := 0; i < n/workers; i++ {
				lock.Lock()
				counter++
				lock.Unlock()
			}
			done.Done()
		}()
	}
	done.Wait()
	if want := n / workers * workers; counter != want {
		fmt.Printf("mutex: counter %d want %d\n", counter, want)
		os.Exit(1)
	}
	report("mutex", n, time.Since(start), "lock")
}

func usage() {
	fmt.Printf("usage: workloads %s [N]\n", joinNames())
	os.Exit(2)
}

func joinNames() string {
	s := ""
	for i, name := range names {
		if i > 0 {
			s += "|"
		}
		s += name
	}
	return s
}

func main() {
	if len(os.Args) < 2 || len(os.Args) > 3 {
		usage()
	}
	w, ok := workloads[os.Args[1]]
	if !ok {
		fmt.Println("unknown workload")
		os.Exit(2)
	}
	n := w.defaultN
	if len(os.Args) == 3 {
		// As the Rust side: N of 0 or a word that is no number means the default.
		if v, err := strconv.Atoi(os.Args[2]); err == nil && v > 0 {
			n = v
		}
	}
	w.run(n)
}
