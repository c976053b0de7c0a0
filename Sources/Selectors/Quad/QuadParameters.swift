extension Quad {
    /// Quad's knobs. Optional values are derived from the data when absent (see each field); every
    /// count or fraction that the released code fixed for a 600M-document corpus scales with the data.
    public struct Parameters: Codable, Sendable, Equatable {
        /// Number of k-means clusters (arms); default round(sqrt(n)) over the rows with an embedding.
        public var clusters: Int?
        /// Exploration weight of the UCB bonus. Default 0.1 x the standard deviation of the sampled
        /// influences: the released code used 1e-4 against rewards of order 1e-3, and tying alpha to
        /// the spread of the influences keeps that ratio whatever the gradients' scale. A given value
        /// is absolute.
        public var alpha: Double?
        /// Clusters pulled per round (m); default min(50, clusters / 4), at least 1.
        public var arms: Int?
        /// Rows drawn to estimate a slice's reward, as a fraction of the cluster (at least 2, at most
        /// the slice's scored rows); default 0.05, the paper's sampling ratio.
        public var bEst: Double
        /// Slice size as a fraction of the cluster (b_take, at least 1 row); default 0.25.
        public var gamma: Double
        /// The reward threshold: a slice is accepted when its sampled mean influence exceeds it.
        /// Default: the `tauQuantile` quantile of the influences of a seeded sample of scored rows.
        public var tau: Double?
        /// The quantile used for the default tau; default 0.8 (the paper found the top-20% bucket best).
        public var tauQuantile: Double
        /// Neighbour radius in embedding space (Euclidean distance between centroids); default the
        /// median over centroids of the distance to the nearest other centroid.
        public var radius: Double?
        /// Rows (seeded sample) the k-means fit sees; all rows are then assigned to the centroids.
        public var kmeansSample: Int
        /// Scored rows (seeded sample) behind the default tau and alpha; default 2000.
        public var tauSample: Int
        /// Stop after this many rounds; default none (stop at the budget or when no arm is left).
        public var maxRounds: Int?
        /// When every arm is exhausted before the budget: stop there (true) or fill the rest from the
        /// rejected slices, best sampled reward first (false, the default).
        public var strict: Bool
        public var seed: UInt64

        public init(
            clusters: Int? = nil, alpha: Double? = nil, arms: Int? = nil, bEst: Double = 0.05, gamma: Double = 0.25,
            tau: Double? = nil, tauQuantile: Double = 0.8, radius: Double? = nil, kmeansSample: Int = 100_000,
            tauSample: Int = 2000, maxRounds: Int? = nil, strict: Bool = false, seed: UInt64 = 0
        ) {
            self.clusters = clusters
            self.alpha = alpha
            self.arms = arms
            self.bEst = bEst
            self.gamma = gamma
            self.tau = tau
            self.tauQuantile = tauQuantile
            self.radius = radius
            self.kmeansSample = kmeansSample
            self.tauSample = tauSample
            self.maxRounds = maxRounds
            self.strict = strict
            self.seed = seed
        }

        /// Reads `--param` overrides: clusters, alpha, arms, bEst, gamma, tau, tauQuantile, radius,
        /// kmeansSample, tauSample, maxRounds, strict.
        public init(_ bag: inout ParameterBag, seed: UInt64) throws {
            self.init(
                clusters: try bag.optionalInt("clusters", range: 1...Int.max),
                alpha: try bag.optionalDouble("alpha", range: 0...Double.greatestFiniteMagnitude),
                arms: try bag.optionalInt("arms", range: 1...Int.max),
                bEst: try bag.double("bEst", default: 0.05, range: 0...1),
                gamma: try bag.double("gamma", default: 0.25, range: 0...1),
                tau: try bag.optionalDouble("tau"),
                tauQuantile: try bag.double("tauQuantile", default: 0.8, range: 0...1),
                radius: try bag.optionalDouble("radius", range: 0...Double.greatestFiniteMagnitude),
                kmeansSample: try bag.int("kmeansSample", default: 100_000, range: 1...Int.max),
                tauSample: try bag.int("tauSample", default: 2000, range: 1...Int.max),
                maxRounds: try bag.optionalInt("maxRounds", range: 1...Int.max),
                strict: try bag.bool("strict", default: false),
                seed: seed)
            try validate()
        }

        /// Throws when a value is out of its range (the memberwise initializer does not check).
        func validate() throws {
            func check(_ ok: Bool, _ message: String) throws { if !ok { throw SelectorError("quad: " + message) } }
            try check(clusters.map { $0 >= 1 } ?? true, "clusters must be at least 1")
            try check(alpha.map { $0 >= 0 && $0.isFinite } ?? true, "alpha must be a finite number >= 0")
            try check(arms.map { $0 >= 1 } ?? true, "arms must be at least 1")
            try check(bEst > 0 && bEst <= 1, "bEst must be in (0, 1]")
            try check(gamma > 0 && gamma <= 1, "gamma must be in (0, 1]")
            try check(tau.map(\.isFinite) ?? true, "tau must be finite")
            try check(tauQuantile >= 0 && tauQuantile <= 1, "tauQuantile must be in [0, 1]")
            try check(radius.map { $0 >= 0 && $0.isFinite } ?? true, "radius must be a finite number >= 0")
            try check(kmeansSample >= 1, "kmeansSample must be at least 1")
            try check(tauSample >= 1, "tauSample must be at least 1")
            try check(maxRounds.map { $0 >= 1 } ?? true, "maxRounds must be at least 1")
        }
    }
}
