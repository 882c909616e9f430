// What the processes under test used over a measured phase: the nodes
// (one server, or a cluster's), the broker and the store, with the
// broker's and the store's own counters, per acknowledged message.
package bench

import "context"

// samples is what the processes under test said at one moment.
type samples struct {
	nodes   []ProcSample
	broker  ProcSample
	store   ProcSample
	traffic *NATSCounters
	writes  *PGCounters
}

// sample reads everything the configuration names.
func (r *run) sample(ctx context.Context) samples {
	s := samples{nodes: r.nodeSamples()}
	if r.cfg.BrokerPID > 0 {
		s.broker = r.readTree("broker", r.cfg.BrokerPID)
	}
	if r.cfg.StorePID > 0 {
		s.store = r.readTree("store", r.cfg.StorePID)
	}
	if r.cfg.BrokerMonitorURL != "" {
		if c, err := readVarz(ctx, r.http, r.cfg.BrokerMonitorURL); err != nil {
			r.logf("broker /varz: %v", err)
		} else {
			s.traffic = &c
		}
	}
	if r.cfg.StoreURL != "" {
		if c, err := readPG(ctx, r.cfg.StoreURL); err != nil {
			r.logf("store counters: %v", err)
		} else {
			s.writes = &c
		}
	}
	return s
}

// nodeSamples reads each server's /proc entry.
func (r *run) nodeSamples() []ProcSample {
	out := make([]ProcSample, len(r.cfg.ServerPIDs))
	for i, pid := range r.cfg.ServerPIDs {
		var err error
		if out[i], err = ReadProc(pid); err != nil {
			r.logf("read server %d's /proc: %v", pid, err)
		}
	}
	return out
}

// serverSample is the servers' samples added up.
func (r *run) serverSample() ProcSample { return sumSamples(r.nodeSamples()) }

func (r *run) readTree(what string, pid int) ProcSample {
	s, err := ReadProcTree(pid)
	if err != nil {
		r.logf("read %s %d's /proc: %v", what, pid, err)
	}
	return s
}

// recordUsage puts into the result what was used between before and
// after, per 1,000 of messages (0 where the scenario sends none to speak
// of).
func (r *run) recordUsage(before, after samples, messages int64) {
	res := r.res
	if pids := r.cfg.ServerPIDs; len(pids) > 0 {
		res.Server = usage(pids, sumSamples(before.nodes), sumSamples(after.nodes), messages)
		for i := 0; len(pids) > 1 && i < len(pids); i++ {
			res.Nodes = append(res.Nodes, *usage(pids[i:i+1], before.nodes[i], after.nodes[i], messages))
		}
	}
	if pid := r.cfg.BrokerPID; pid > 0 {
		res.Broker = usage([]int{pid}, before.broker, after.broker, messages)
	}
	if pid := r.cfg.StorePID; pid > 0 {
		res.Store = usage([]int{pid}, before.store, after.store, messages)
	}
	if before.traffic != nil && after.traffic != nil {
		res.BrokerTraffic = brokerTraffic(*before.traffic, *after.traffic, messages)
	}
	if before.writes != nil && after.writes != nil {
		res.StoreWrites = storeWrites(*before.writes, *after.writes, messages)
	}
}

func usage(pids []int, before, after ProcSample, messages int64) *ServerUsage {
	u := &ServerUsage{PIDs: pids, Before: before, After: after,
		CPUSeconds: after.CPUSeconds - before.CPUSeconds, RSSDeltaKB: after.RSSKB - before.RSSKB}
	if wall := after.At.Sub(before.At).Seconds(); wall > 0 {
		u.CPUPercent = 100 * u.CPUSeconds / wall
	}
	if messages > 0 {
		u.CPUPer1000Messages = 1000 * u.CPUSeconds / float64(messages)
	}
	return u
}
