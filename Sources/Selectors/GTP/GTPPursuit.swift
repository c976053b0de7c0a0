import Foundation

extension GTP {
    /// The pursuit as a resumable state machine: the part of GTP that runs on one machine (targets,
    /// candidate systems, NNLS, pruning, residual), fed each iteration with the rows that correlate best
    /// with the current residual. ``select(checkpoints:budget:parameters:progress:limits:)`` computes
    /// those over the whole pool in process; a shard set computes them per shard (each shard's best
    /// 2k, whose union holds the global best 2k) and saves the state between iterations, so a sharded
    /// run makes the same decisions as a single catalog. The state is `Codable` (the residual is the
    /// broadcast); the candidate system is a cache that only saves work.
    /// One correlation pass over a part of the pool (a shard, whose first global row is `offset`): the
    /// `count` eligible rows with the largest positive c_z for the residual, best first, as global rows,
    /// and how many eligible rows the part has. Each row's score depends on that row alone, so the
    /// best `count` of the whole pool lie in the union of the parts' (docs/ARCHITECTURE.md, "Shard sets").
    public static func correlationStep(
        layout: TrajectoryLayout, residual: [Double], groups: Int, count: Int, offset: Int
    ) throws -> (candidates: [Pursuit.Candidate], eligibleRows: Int) {
        let correlator = ResidualCorrelator(layout: layout)
        let candidates = try correlator.top(count, residual: residual, groups: groups, offset: offset)
        return (candidates, correlator.eligible.setCount)
    }

    public struct Pursuit: Codable {
        public let budget: Int
        public let parameters: Parameters
        /// Number of target groups (rows of the residual).
        public private(set) var groups: Int
        /// R = Y - A_S W_S, groups x dimension: what the next correlation pass scores rows against.
        public private(set) var residual: [Double]
        var kept = Fit(rows: [], weights: [], relativeResidual: 1)
        var iteration = 0
        var k: Int
        var stop: StopReason? = nil
        var diagnostics = Diagnostics()
        var timings = PhaseTimings()
        var gatheredRows = 0
        /// Candidate rows read from the store by the last ``advance(_:eligibleRows:layout:cache:)``.
        public private(set) var candidateRowsRead = 0
        private var started: Date
        /// Rows a query left out of the pool (not counted as unusable in the notes).
        public var rowsOutsideCandidates = 0

        /// A correlation pass the pursuit needs: the best `count` rows (positive score, eligible) for
        /// the current residual, at iteration `iteration`.
        public struct CorrelationRequest: Sendable, Equatable {
            public var iteration: Int
            public var count: Int
        }

        /// What a correlation pass found: rows with their score c_z, best first (ties: lower row).
        public struct Candidate: Codable, Sendable, Equatable {
            public var row: Int
            public var score: Float
            public init(row: Int, score: Float) {
                self.row = row
                self.score = score
            }
        }

        /// Work carried between iterations in one process (rebuilt when a pursuit resumes elsewhere).
        public struct Cache {
            var system: CandidateSystem?
            public init() {}
        }

        public init(layout: TrajectoryLayout, budget: Int, parameters: Parameters) throws {
            guard budget >= 0 else { throw SelectorError("the budget must not be negative (got \(budget))") }
            self.budget = budget
            self.parameters = parameters
            k = budget
            started = Date()
            let clock = ContinuousClock.now
            let targets = try GTP.makeTargets(layout: layout, parameters: parameters)
            timings.targets = GTPTiming.seconds(since: clock)
            groups = targets.count
            residual = targets.means
            diagnostics.objectiveLabel = "relative residual ||R|| / ||Y||"
            diagnostics.stepLabel = "iteration"
            diagnostics.counters["groups"] = Double(targets.count)
            diagnostics.counters["validationRows"] = Double(layout.targetRows)
            diagnostics.counters["dimension"] = Double(layout.dimension)
        }

        /// The next correlation pass, or nil when the pursuit has finished.
        public var nextCorrelation: CorrelationRequest? {
            guard stop == nil, budget > 0, iteration < parameters.iterations else { return nil }
            return CorrelationRequest(iteration: iteration + 1, count: 2 * k)
        }

        /// One iteration, given the correlation pass's best rows (at most 2k, positive, eligible) and the
        /// number of eligible rows in the pool. `layout` must cover the whole pool (in a shard set: the
        /// shards concatenated), since the candidates' rows are read from it.
        ///
        /// `stage` hears what the iteration is doing: (stage, units done, units in all, unit).
        public mutating func advance(
            _ omega: [Candidate], eligibleRows: Int, layout: TrajectoryLayout, cache: inout Cache,
            stage: ((String, Int, Int?, String) -> Void)? = nil
        ) throws {
            iteration += 1
            if iteration == 1 {
                diagnostics.counters["eligibleRows"] = Double(eligibleRows)
                let excluded = layout.poolRows - rowsOutsideCandidates - eligibleRows
                if excluded > 0 {
                    diagnostics.notes.append("\(excluded) rows are unusable or have a zero gradient at some checkpoint and were never considered")
                }
                k = min(budget, eligibleRows)
            }
            if omega.isEmpty {
                stop = .noCorrelation
                return
            }
            let targets = try GTP.makeTargets(layout: layout, parameters: parameters)
            let candidates = Set(omega.map(\.row)).union(kept.rows).sorted()
            diagnostics.counters["candidates.\(iteration)"] = Double(candidates.count)

            var cost = CandidateSystem.Cost()
            stage?("reading candidates", 0, candidates.count, "rows")
            let current = try CandidateSystem.build(
                rows: candidates, layout: layout, targets: targets, reusing: cache.system, cost: &cost,
                gramProgress: stage.map { report in { done, total in report("fitting: Gram rows", done, total, "rows") } })
            cache.system = current
            gatheredRows += cost.newRows
            candidateRowsRead = cost.newRows
            timings.gather += cost.gather
            // The carried rows' new columns were computed while building the system.
            timings.gram += current.gram.seconds

            var clock = ContinuousClock.now
            let gramBefore = current.gram.seconds
            var fullFit = try current.fit(warmStart: kept.spread(over: current.rows, groups: groups))
            let merged = GTP.mergeCopies(&fullFit, system: current)
            if merged > 0 { diagnostics.counters["mergedCopies.\(iteration)"] = Double(merged) }
            let norms = GTP.rowNorms(fullFit, groups: groups)
            diagnostics.counters["support.\(iteration)"] = Double(norms.filter { $0 > 0 }.count)
            // The k largest non-zero row norms (ties: lower row, i.e. lower position), kept in row order.
            let prunedPositions = norms.indices.filter { norms[$0] > 0 }
                .sorted { norms[$0] > norms[$1] || (norms[$0] == norms[$1] && $0 < $1) }
                .prefix(k).sorted()
            let pruned = current.restricted(to: Array(prunedPositions))
            let prunedStart = prunedPositions.flatMap { i in (0..<groups).map { fullFit[i * groups + $0] } }
            stage?("refitting the \(prunedPositions.count) largest", 0, nil, "rows")
            let refit = try pruned.fit(warmStart: prunedStart)
            let gramSeconds = current.gram.seconds - gramBefore + pruned.gram.seconds
            timings.gram += gramSeconds
            timings.nnls += GTPTiming.seconds(since: clock) - gramSeconds
            diagnostics.counters["gramRows.\(iteration)"] = Double(current.gram.computedRows)

            clock = ContinuousClock.now
            stage?("residual", 0, nil, "rows")
            let refitNorms = GTP.rowNorms(refit, groups: groups)
            let support = refitNorms.indices.filter { refitNorms[$0] > 0 }
            let chosen = pruned.restricted(to: support)
            let weights = support.flatMap { i in (0..<groups).map { refit[i * groups + $0] } }
            let newResidual = try chosen.residual(targets: targets, weights: weights)
            let relative = GTP.frobeniusNorm(newResidual) / targets.norm
            timings.residual += GTPTiming.seconds(since: clock)

            if chosen.rows == kept.rows {
                stop = .unchanged
                return
            }
            if !(relative < kept.relativeResidual) {
                stop = .noImprovement
                diagnostics.notes.append(
                    "iteration \(iteration) did not lower the relative residual (\(GTP.format(kept.relativeResidual)) -> \(GTP.format(relative)); "
                        + "CoSaMP's pruning to k rows can raise it), so the subset of iteration \(iteration - 1) is kept")
                return
            }
            let previous = kept.relativeResidual
            kept = Fit(rows: chosen.rows, weights: weights, relativeResidual: relative)
            residual = newResidual
            diagnostics.objectiveTrace.append(relative)
            if relative < parameters.tolerance {
                stop = .tolerance
            } else if previous - relative < parameters.stall * previous {
                stop = .stalled
                diagnostics.notes.append(
                    "the pursuit stopped after iteration \(iteration): it lowered the relative residual by "
                        + "\(GTP.format((previous - relative) / previous * 100))% (\(GTP.format(previous)) -> \(GTP.format(relative))), "
                        + "less than the stall share \(parameters.stall); parameter stall=0 runs on")
            }
        }

        /// Walks the kept rows by weight through a near-duplicate guard and refits the rows it admits
        /// (their weights and residual are those of the smaller subset). The pursuit itself is not
        /// changed: its support is chosen jointly, so a row cannot be refused mid-way.
        mutating func admitMembers(by selectionGuard: any SelectionGuard, system: CandidateSystem, layout: TrajectoryLayout) throws {
            guard !kept.rows.isEmpty else { return }
            let targets = try GTP.makeTargets(layout: layout, parameters: parameters)
            kept = try GTP.guarded(kept, by: selectionGuard, system: system, targets: targets, diagnostics: &diagnostics)
        }

        /// The subset: the kept rows ranked by weight, with the diagnostics.
        public func finish() -> Selection {
            var diagnostics = self.diagnostics
            let members = kept.members(groups: groups)
            diagnostics.counters["iterations"] = Double(iteration)
            diagnostics.counters["finalSize"] = Double(members.count)
            diagnostics.counters["gatheredRows"] = Double(gatheredRows)
            diagnostics.counters["relativeResidual"] = kept.relativeResidual
            if budget > 0 && members.count < budget {
                diagnostics.notes.append(
                    "GTP stopped at \(members.count) of \(budget) rows: \((stop ?? .iterationLimit).explanation(parameters)); the best non-negative fit "
                        + "found uses only these rows (non-negative least-squares optima are sparse)")
            }
            diagnostics.timings = timings.dictionary
            diagnostics.timings["total"] = Date().timeIntervalSince(started)
            return Selection(members: members, diagnostics: diagnostics)
        }
    }
}
