extension GTP {
    /// GTP's settings, stored with every subset as canonical JSON.
    public struct Parameters: Codable, Sendable, Equatable {
        /// Number of target groups G: the validation trajectories are clustered by k-means into G
        /// groups and the pursuit fits every group mean at once (default 32; clamped to the number of
        /// validation rows; 1 fits the single mean target).
        public var groups: Int
        /// Maximum number of pursuit iterations I (default 20).
        public var iterations: Int
        /// Stop when the relative residual ||R|| / ||Y|| falls below this (default 1e-4).
        public var tolerance: Double
        /// Stop when an iteration lowers the relative residual by less than this share of its value
        /// (default 1e-3; keeping that iteration's subset). 0 runs the pursuit until the subset stops
        /// changing, the residual stops falling or the iteration limit.
        public var stall: Double
        /// Seed of the k-means grouping.
        public var seed: UInt64

        public init(groups: Int = 32, iterations: Int = 20, tolerance: Double = 1e-4, stall: Double = 1e-3, seed: UInt64 = 0) {
            precondition(groups >= 1, "GTP needs at least one target group")
            precondition(iterations >= 1, "GTP needs at least one iteration")
            precondition(tolerance >= 0 && tolerance.isFinite, "the tolerance must be a non-negative number")
            precondition(stall >= 0 && stall < 1, "the stall share must lie in [0, 1)")
            self.groups = groups
            self.iterations = iterations
            self.tolerance = tolerance
            self.stall = stall
            self.seed = seed
        }

        /// Reads `groups=32`, `iterations=20`, `tolerance=1e-4`, `stall=1e-3`.
        public init(_ bag: inout ParameterBag, seed: UInt64) throws {
            self.init(
                groups: try bag.int("groups", default: 32, range: 1...1_000_000),
                iterations: try bag.int("iterations", default: 20, range: 1...10_000),
                tolerance: try bag.double("tolerance", default: 1e-4, range: 0...1),
                stall: try bag.double("stall", default: 1e-3, range: 0...0.5),
                seed: seed)
        }
    }
}
