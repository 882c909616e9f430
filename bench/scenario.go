package bench

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// traffic runs fanout, latency and sends: members join the rooms, senders
// send for Duration, members are checked against what was acknowledged.
func (r *run) traffic(ctx context.Context) error {
	cfg := r.cfg
	rooms := r.roomNames()
	if cfg.Members > 0 {
		c, err := r.connect(ctx, rooms, 0, cfg.Members)
		if err != nil {
			return err
		}
		r.logf("connected %d members in %.2fs (%d failed)", c.OK, c.Elapsed.Seconds(), c.Failed)
		if c.Failed > 0 {
			return fmt.Errorf("%d of %d members failed to connect: %v", c.Failed, cfg.Members, c.Errors)
		}
	}
	sleep(ctx, cfg.Settle)

	l := newLedger()
	stop := make(chan struct{})
	senderErrs := make([]error, cfg.Senders)
	_, clientCPU0, err := r.report(ctx)
	if err != nil {
		return err
	}
	self0, _ := ReadProc(0)
	before := r.sample(ctx)
	waitProfile := r.profile(ctx, max(int(cfg.Duration.Seconds()), cfg.ProfileSeconds))
	sendStart := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < cfg.Senders; i++ {
		spec := senderSpec{URL: cfg.URLs[nodeOf(i, len(rooms), len(cfg.URLs))], Mode: cfg.SendMode, Wire: r.wire, Room: rooms[i%len(rooms)], Index: i,
			Rate: cfg.Rate / float64(cfg.Senders), Window: cfg.Window, Size: cfg.Size, Client: r.http}
		wg.Add(1)
		go func() {
			defer wg.Done()
			senderErrs[i] = runSender(ctx, spec, l, stop, cfg.Drain)
		}()
	}
	sleep(ctx, cfg.Duration)
	close(stop)
	wg.Wait()
	sendEnd := time.Now()
	r.logf("senders stopped: %d sent, %d acknowledged, %d failed", l.sent.Load(), l.acked.Load(), l.failed.Load())

	// Wait for every member to get every acknowledged message, while
	// deliveries still progress, up to Drain.
	expect := l.expect()
	deadline := time.Now().Add(cfg.Drain)
	var check CheckResult
	lastDeliveries, lastProgress := int64(-1), time.Now()
	for {
		check, err = r.check(ctx, expect)
		if err != nil {
			return err
		}
		if check.Complete+check.Dropped >= check.Members && check.Behind == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		if check.Deliveries != lastDeliveries {
			lastDeliveries, lastProgress = check.Deliveries, time.Now()
		} else if time.Since(lastProgress) > 3*time.Second {
			break // nothing arrives any more
		}
		sleep(ctx, 100*time.Millisecond)
	}
	after := r.sample(ctx)
	self1, _ := ReadProc(0)
	rep, clientCPU1, err := r.report(ctx)
	if err != nil {
		return err
	}
	if r.cfg.Workers == 0 {
		clientCPU0, clientCPU1 = self0.CPUSeconds, self1.CPUSeconds
	}
	waitProfile()

	res := r.res
	r.recordUsage(before, after, l.acked.Load())
	res.ClientCPU = clientCPU1 - clientCPU0
	sendSecs := sendEnd.Sub(sendStart).Seconds()
	if last := l.lastAck.Load(); last > 0 {
		sendSecs = time.Unix(0, last).Sub(sendStart).Seconds()
	}
	res.Sends = &Sends{Senders: cfg.Senders, Mode: cfg.SendMode, Sent: l.sent.Load(), Acked: l.acked.Load(),
		Failed: l.failed.Load(), PerSecond: perSec(l.acked.Load(), sendSecs),
		AckLatency: summarize(l.ackHist.merged()), Errors: l.errors}
	for _, err := range senderErrs {
		if err != nil {
			res.Errors = append(res.Errors, err.Error())
		}
	}
	membersPerRoom := map[string]int64{}
	for i := 0; i < cfg.Members; i++ {
		membersPerRoom[rooms[i%len(rooms)]]++
	}
	var expected int64
	for room, e := range expect {
		expected += e.Count * membersPerRoom[room]
	}
	lost := check.Missing
	if check.Mismatched > 0 {
		lost += int64(check.Mismatched) // at least one wrong id each
	}
	recvSecs := 0.0
	if rep.LastRecvNs > 0 {
		recvSecs = time.Unix(0, rep.LastRecvNs).Sub(sendStart).Seconds()
	}
	res.Deliveries = &Deliveries{Members: check.Members, Expected: expected, Received: check.Deliveries,
		Lost: lost, PerSecond: perSec(check.Deliveries, recvSecs), Check: check,
		Latency: summarize(hdrhistogram.Import(rep.Latency))}
	res.Complete = lost == 0 && check.Dropped == 0 && check.Duplicates == 0 && res.Sends.Failed == 0 &&
		check.Complete == check.Members && len(res.Errors) == 0
	switch cfg.Scenario {
	case "fanout":
		res.Targets = append(res.Targets,
			Target{Name: "deliveries_per_sec", Goal: ">= 200000", Measured: res.Deliveries.PerSecond, Met: res.Deliveries.PerSecond >= 200000},
			Target{Name: "lost", Goal: "== 0", Measured: float64(lost), Met: lost == 0 && check.Dropped == 0})
	case "latency":
		lat := res.Deliveries.Latency
		res.Targets = append(res.Targets,
			Target{Name: "p50_ms", Goal: "<= 5", Measured: lat.P50MS, Met: lat.Count > 0 && lat.P50MS <= 5},
			Target{Name: "p99_ms", Goal: "<= 12", Measured: lat.P99MS, Met: lat.Count > 0 && lat.P99MS <= 12},
			Target{Name: "lost", Goal: "== 0", Measured: float64(lost), Met: lost == 0 && check.Dropped == 0})
	case "sends":
		res.Targets = append(res.Targets,
			Target{Name: "acked_sends_per_sec", Goal: ">= 20000", Measured: res.Sends.PerSecond, Met: res.Sends.PerSecond >= 20000},
			Target{Name: "lost", Goal: "== 0", Measured: float64(lost), Met: lost == 0 && check.Dropped == 0})
	}
	r.logf("%s: %d/%d deliveries (%.0f/s), %d lost, %.0f acked sends/s, p50 %.2f ms p99 %.2f ms p99.9 %.2f ms",
		cfg.Scenario, check.Deliveries, expected, res.Deliveries.PerSecond, lost, res.Sends.PerSecond,
		res.Deliveries.Latency.P50MS, res.Deliveries.Latency.P99MS, res.Deliveries.Latency.P999MS)
	return nil
}

// connections opens idle members step by step and measures the connect
// rate and the server's RSS per connection at each step; then it sends one
// message per room to check that every connection still works.
func (r *run) connections(ctx context.Context) error {
	cfg := r.cfg
	rooms := r.roomNames()
	sleep(ctx, cfg.Settle)
	before := r.sample(ctx)
	base := sumSamples(before.nodes)
	waitProfile := r.profile(ctx, cfg.ProfileSeconds)
	_, clientCPU0, err := r.report(ctx)
	if err != nil {
		return err
	}
	open := 0
	for _, target := range cfg.Steps {
		if target <= open {
			continue
		}
		server0 := r.serverSample()
		_, client0, err := r.report(ctx)
		if err != nil {
			return err
		}
		c, err := r.connect(ctx, rooms, open, target)
		if err != nil {
			return err
		}
		server1 := r.serverSample()
		_, client1, err := r.report(ctx)
		if err != nil {
			return err
		}
		open += c.OK
		step := ConnectionStep{Target: target, Open: open, Added: c.OK, Failed: c.Failed,
			ConnectSeconds: c.Elapsed.Seconds(), ConnectPerSec: perSec(int64(c.OK), c.Elapsed.Seconds()),
			Handshake: summarize(hdrhistogram.Import(c.Handshake)), Errors: c.Errors}
		if c.OK > 0 {
			step.ServerCPUPerConnUS = (server1.CPUSeconds - server0.CPUSeconds) * 1e6 / float64(c.OK)
			step.ClientCPUPerConnUS = (client1 - client0) * 1e6 / float64(c.OK)
		}
		sleep(ctx, cfg.Settle)
		s := r.serverSample()
		step.ServerRSSKB, step.ServerFDs, step.ServerThreads = s.RSSKB, s.FDs, s.Threads
		if open > 0 && s.RSSKB > 0 {
			step.RSSPerConnB = float64(s.RSSKB-base.RSSKB) * 1024 / float64(open)
		}
		r.res.Connections = append(r.res.Connections, step)
		r.logf("connections: %d open (+%d, %d failed) at %.0f/s, server CPU %.0f µs/conn (load generator %.0f), server RSS %d KB (%.0f B/conn), %d fds",
			open, c.OK, c.Failed, step.ConnectPerSec, step.ServerCPUPerConnUS, step.ClientCPUPerConnUS, s.RSSKB, step.RSSPerConnB, s.FDs)
		if c.Failed > 0 {
			r.res.Errors = append(r.res.Errors, fmt.Sprintf("step %d: %d failed: %v", target, c.Failed, c.Errors))
			break
		}
	}
	r.heapProfile(ctx)
	// Liveness: one send per room (REST, or WebSocket where the server has
	// no REST) reaches every open member.
	mode := "rest"
	if cfg.Protocol == ProtocolCentrifugo {
		mode = "ws"
	}
	l := newLedger()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i, room := range rooms {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			runSender(ctx, senderSpec{URL: cfg.URLs[nodeOf(i, len(rooms), len(cfg.URLs))], Mode: mode, Wire: r.wire, Room: room, Index: i, Window: 1, Count: 1, Size: cfg.Size, Client: r.http}, l, make(chan struct{}), cfg.Drain)
		}()
	}
	wg.Wait()
	expect := l.expect()
	deadline := time.Now().Add(cfg.Drain)
	var check CheckResult
	for {
		check, err = r.check(ctx, expect)
		if err != nil {
			return err
		}
		if check.Complete+check.Dropped >= check.Members || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		sleep(ctx, 100*time.Millisecond)
	}
	after := r.sample(ctx)
	_, clientCPU1, _ := r.report(ctx)
	waitProfile()
	r.recordUsage(before, after, 0)
	r.res.ClientCPU = clientCPU1 - clientCPU0
	var expected int64
	membersPerRoom := map[string]int64{}
	for i := 0; i < open; i++ {
		membersPerRoom[rooms[i%len(rooms)]]++
	}
	for room, e := range expect {
		expected += e.Count * membersPerRoom[room]
	}
	r.res.Sends = &Sends{Senders: len(rooms), Mode: mode, Sent: l.sent.Load(), Acked: l.acked.Load(), Failed: l.failed.Load(),
		AckLatency: summarize(l.ackHist.merged()), Errors: l.errors}
	lost := check.Missing + int64(check.Mismatched)
	r.res.Deliveries = &Deliveries{Members: check.Members, Expected: expected, Received: check.Deliveries, Lost: lost, Check: check}
	r.res.Complete = lost == 0 && check.Dropped == 0 && l.failed.Load() == 0 && len(r.res.Errors) == 0 &&
		len(r.res.Connections) == len(cfg.Steps)
	if n := len(r.res.Connections); n > 0 {
		minRate := math.Inf(1)
		for _, s := range r.res.Connections {
			minRate = math.Min(minRate, s.ConnectPerSec)
		}
		last := r.res.Connections[n-1]
		r.res.Targets = append(r.res.Targets,
			Target{Name: "connect_per_sec_min_over_steps", Goal: ">= 5000", Measured: minRate, Met: minRate >= 5000},
			Target{Name: "rss_per_conn_bytes_at_largest", Goal: "<= 10240", Measured: last.RSSPerConnB, Met: len(r.cfg.ServerPIDs) > 0 && last.RSSPerConnB <= 10240},
			Target{Name: "open_connections", Goal: fmt.Sprintf(">= %d", cfg.Steps[len(cfg.Steps)-1]), Measured: float64(last.Open), Met: last.Open >= cfg.Steps[len(cfg.Steps)-1]},
			Target{Name: "lost", Goal: "== 0", Measured: float64(lost), Met: lost == 0 && check.Dropped == 0})
	}
	return nil
}

func perSec(n int64, secs float64) float64 {
	if secs <= 0 {
		return 0
	}
	return float64(n) / secs
}
