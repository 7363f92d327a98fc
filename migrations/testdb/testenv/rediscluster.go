package testenv

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// RedisCluster starts a Redis Cluster of three primaries (no replicas) from
// the redis-server binary, each on a free loopback port with its data in a
// temporary directory, and returns their addresses; they stop when the test
// ends. Without redis-server the test is skipped (failed under
// PORTICO_TEST_STRICT=1). It speaks RESP itself, so it needs no client
// library and no redis-cli.
func RedisCluster(t testing.TB) []string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	Need(t, err == nil, "redis-server is not installed (apt-get install redis-server)")
	const n = 3
	addrs := make([]string, n)
	for i := range n {
		addrs[i] = startClusterNode(t, bin)
	}
	// Slots split evenly, distinct epochs, then every node meets the first.
	per := 16384 / n
	for i, a := range addrs {
		lo, hi := i*per, (i+1)*per-1
		if i == n-1 {
			hi = 16383
		}
		// Distinct epochs first, as redis-cli does (only a speed-up: the
		// cluster settles equal ones itself).
		resp(a, "CLUSTER", "SET-CONFIG-EPOCH", strconv.Itoa(i+1))
		mustRESP(t, a, "CLUSTER", "ADDSLOTSRANGE", strconv.Itoa(lo), strconv.Itoa(hi))
	}
	host, port, _ := net.SplitHostPort(addrs[0])
	for _, a := range addrs[1:] {
		mustRESP(t, a, "CLUSTER", "MEET", host, port)
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, a := range addrs {
		for {
			info, err := resp(a, "CLUSTER", "INFO")
			if err == nil && strings.Contains(info, "cluster_state:ok") && strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(n)) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("redis cluster did not form: %s %v", info, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return addrs
}

// startClusterNode starts one cluster-enabled redis-server and returns its
// address once it answers with its own process id: tests in other
// packages run at the same time and take ports too, so a port found free
// may be gone by the time the server binds it (it then exits, and this
// tries another), and whatever answers there must be this server.
func startClusterNode(t testing.TB, bin string) string {
	t.Helper()
	for range 10 {
		port, err := freePortPair()
		if err != nil {
			t.Fatal(err)
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", t.TempDir(),
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000",
			"--save", "", "--appendonly", "no", "--protected-mode", "no")
		if err := cmd.Start(); err != nil {
			t.Fatalf("redis-server: %v", err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		me := "process_id:" + strconv.Itoa(cmd.Process.Pid) + "\r\n"
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			select {
			case <-exited:
			default:
				if info, err := resp(addr, "INFO", "server"); err != nil || !strings.Contains(info, me) {
					continue
				}
				t.Cleanup(func() { cmd.Process.Kill(); <-exited })
				return addr
			}
			break
		}
		cmd.Process.Kill()
		<-exited
	}
	t.Fatal("could not start a redis-server cluster node")
	return ""
}

// freePortPair returns a port that, with the cluster bus's port 10000
// above it, was free a moment ago.
func freePortPair() (int, error) {
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := ln.Addr().(*net.TCPAddr).Port
		if port+10000 > 65535 {
			ln.Close()
			continue
		}
		bus, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+10000))
		ln.Close()
		if err != nil {
			continue
		}
		bus.Close()
		return port, nil
	}
	return 0, fmt.Errorf("no free port pair for a redis cluster node")
}

func mustRESP(t testing.TB, addr string, args ...string) {
	t.Helper()
	if _, err := resp(addr, args...); err != nil {
		t.Fatalf("redis %s %v: %v", addr, args, err)
	}
}

// resp sends one command and returns its reply: a simple string, an error,
// an integer or a bulk string (what the commands above answer).
func resp(addr string, args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	switch {
	case line == "":
		return "", fmt.Errorf("empty reply")
	case line[0] == '-':
		return "", fmt.Errorf("%s", line[1:])
	case line[0] == '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(br, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return line[1:], nil
}
