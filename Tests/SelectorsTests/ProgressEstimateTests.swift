import Foundation
import Selectors
import Testing

/// The ETA a terminal shows: linear for scans, quadratic for greedy picks whose cost grows.
@Suite("Progress estimates")
struct ProgressEstimateTests {
    @Test func aScanExtrapolatesItsRate() {
        let event = SelectionProgress(phase: "scoring", completed: 250, total: 1000, unit: "rows")
        #expect(event.secondsLeft(total: 1000, elapsed: 10, since: 0) == 30)
        // The rate counts from where the phase was first seen.
        #expect(event.secondsLeft(total: 1000, elapsed: 10, since: 200) == 150)
    }

    @Test func greedyPicksWhoseCostGrowsExtrapolateTheSquare() {
        // A quarter of the picks took 10 s; with work growing as n^2 the whole takes 160 s.
        let event = SelectionProgress(phase: "picking", completed: 250, total: 1000, unit: "picks", costGrows: true)
        #expect(event.secondsLeft(total: 1000, elapsed: 10, since: 0) == 150)
        // Work that really grows as n^2 is predicted exactly from any point.
        let perWork = 1e-6
        for done in [10, 100, 700] {
            let elapsed = Double(done * done) * perWork
            let predicted = SelectionProgress(phase: "picking", completed: done, total: 1000, unit: "picks", costGrows: true)
                .secondsLeft(total: 1000, elapsed: elapsed, since: 0)
            #expect(abs(predicted - (1e6 - Double(done * done)) * perWork) < 1e-9)
        }
    }

    @Test func nothingDoneYetHasNoEstimate() {
        let event = SelectionProgress(phase: "picking", completed: 5, total: 10, unit: "picks", costGrows: true)
        #expect(event.secondsLeft(total: 10, elapsed: 3, since: 5) == .infinity)
    }
}

/// GTP's whole-run ETA counts the iterations its stall rule still expects from the residual trace.
@Suite("GTP's run estimate")
struct GTPRunEstimateTests {
    @Test func stallOffOrNoTraceMeansTheIterationLimit() {
        #expect(GTP.RunEstimate.iterationsAfter(3, trace: [0.5, 0.4], stall: 0, limit: 20) == 17)
        #expect(GTP.RunEstimate.iterationsAfter(1, trace: [], stall: 1e-3, limit: 20) == 19)
    }

    @Test func aDropBelowTheStallShareMeansNoMoreIterations() {
        // 0.4 -> 0.39996 is a drop of 1e-4 of the residual, under the stall share 1e-3.
        #expect(GTP.RunEstimate.iterationsAfter(3, trace: [0.4, 0.39996], stall: 1e-3, limit: 20) == 0)
    }

    @Test func geometricDropsGiveTheIterationWhereTheyFallUnderTheShare() {
        // Drops 0.5 (1 -> 0.5), then 0.05 (0.5 -> 0.475): ratio 0.1, so the next drops are 0.005
        // (iteration 3, under way) and 0.0005 (iteration 4, the last: under 1e-3).
        #expect(GTP.RunEstimate.iterationsAfter(3, trace: [0.5, 0.475], stall: 1e-3, limit: 20) == 1)
        // The limit caps it.
        #expect(GTP.RunEstimate.iterationsAfter(3, trace: [0.5, 0.475], stall: 1e-3, limit: 3) == 0)
    }
}
