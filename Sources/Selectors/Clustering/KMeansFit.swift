import Foundation

/// A k-means fit as a sequence of assignment passes (issue 23): the fit holds the sample, the seeding
/// state and the centroids, and asks for one thing at a time: the nearest of some centers for every
/// sample row, with its squared distance. ``KMeans/fit(_:)`` answers on this machine with
/// ``NearestCentroids``; a shard set answers with one step per shard, each assigning the sample rows
/// it owns, so the GEMM work (sample x k x dim per pass) runs on the shards and the driver keeps only
/// the O(sample x dim) updates. Labels and distances are exact whatever block or shard a row is
/// assigned in (``NearestCentroids``), so both ways give the same centroids, bit for bit.
///
/// ```swift
/// var fit = KMeansFit(kmeans, data: sample)
/// while let centers = fit.pendingCenters(sample) {
///     let (labels, distances) = NearestCentroids(centers).assign(sample)
///     fit.receive(labels: labels, distances: distances, data: sample)
/// }
/// ```
public struct KMeansFit: Sendable {
    /// Where the fit is: each stage but the last waits for one assignment pass.
    enum Stage: Int {
        /// k-means||: the sample against its first, uniformly drawn row.
        case firstDraw
        /// k-means||: the sample against the rows drawn in round ``round``.
        case seedingRound
        /// Lloyd: the sample against the current centroids.
        case lloyd
        case finished
    }

    let configuration: KMeans
    let k: Int
    var random: SeededRandom
    var stage: Stage
    /// k-means|| state: the rows drawn so far, each sample row's nearest draw and squared distance,
    /// the current round and the rows it drew.
    var chosen: [Int] = []
    var labels: [Int] = []
    var nearest: [Float] = []
    var round = 0
    var drawn: [Int] = []
    /// Lloyd state.
    public private(set) var centroids: Matrix
    var assignments: [Int] = []
    var inertia = Double.infinity
    /// Lloyd iterations run.
    public private(set) var iterations = 0

    /// A fit of `data` (the sample) seeded as `configuration` says; greedy k-means++ seeds here at once.
    public init(_ configuration: KMeans, data: Matrix) {
        precondition(data.rows > 0, "k-means needs at least one row")
        self.configuration = configuration
        k = min(configuration.clusters, data.rows)
        random = SeededRandom(seed: configuration.seed)
        centroids = Matrix(rows: 0, columns: data.columns)
        switch configuration.seeding {
        case .greedyPlusPlus:
            stage = .lloyd
            let seeds = configuration.seedPlusPlus(data, rowNorms: KMeans.squaredNorms(data), k: k, random: &random)
            startLloyd(from: seeds)
        case .parallel:
            stage = .firstDraw
            chosen = [random.nextInt(below: data.rows)]
        }
    }

    /// A fit of `data` whose Lloyd iterations start from `initial`.
    public init(_ configuration: KMeans, data: Matrix, from initial: Matrix) {
        precondition(data.rows > 0, "k-means needs at least one row")
        self.configuration = configuration
        k = initial.rows
        random = SeededRandom(seed: configuration.seed)
        stage = .lloyd
        centroids = initial
        startLloyd(from: initial)
    }

    /// True once the Lloyd iterations have begun (the seeds are ``centroids`` until the first update).
    public var isSeeded: Bool { stage == .lloyd || stage == .finished }
    public var isFinished: Bool { stage == .finished }

    /// The centers every row of `data` is to be assigned to next; nil when the fit is finished.
    public func pendingCenters(_ data: Matrix) -> Matrix? {
        switch stage {
        case .firstDraw: return data.rows(chosen)
        case .seedingRound: return data.rows(drawn)
        case .lloyd: return centroids
        case .finished: return nil
        }
    }

    /// Takes the answer to ``pendingCenters(_:)``: each row's nearest center (an index into them) and
    /// the squared distance to it.
    public mutating func receive(labels newLabels: [Int], distances: [Float], data: Matrix) {
        precondition(newLabels.count == data.rows && distances.count == data.rows, "one label and distance per row")
        switch stage {
        case .firstDraw:
            labels = newLabels
            nearest = distances
            nearest[chosen[0]] = 0
            round = 0
            drawRound(data)
        case .seedingRound:
            for i in 0..<data.rows where distances[i] < nearest[i] {
                nearest[i] = distances[i]
                labels[i] = chosen.count + newLabels[i]
            }
            for row in drawn { nearest[row] = 0 }
            chosen += drawn
            round += 1
            drawRound(data)
        case .lloyd:
            lloydStep(labels: newLabels, distances: distances, data: data)
        case .finished:
            preconditionFailure("the fit is finished")
        }
    }

    mutating func startLloyd(from seeds: Matrix) {
        centroids = seeds
        assignments = []
        inertia = .infinity
        iterations = 0
        stage = configuration.maxIterations > 0 ? .lloyd : .finished
    }

    /// Answers every pass on this machine until `done` holds.
    public mutating func run(on data: Matrix, until done: (KMeansFit) -> Bool = { $0.isFinished }) {
        while !done(self), let centers = pendingCenters(data) {
            let (labels, distances) = NearestCentroids(centers).assign(data)
            receive(labels: labels, distances: distances, data: data)
        }
    }

    /// One Lloyd iteration: the new centroids are the means of the rows assigned to each.
    private mutating func lloydStep(labels newAssignments: [Int], distances: [Float], data: Matrix) {
        iterations += 1
        let newInertia = distances.reduce(0) { $0 + Double($1) }
        let changed = newAssignments != assignments
        assignments = newAssignments
        let converged = !changed || (inertia.isFinite && (inertia - newInertia) <= configuration.tolerance * max(inertia, 1e-30))
        inertia = newInertia
        centroids = KMeans.means(data, assignments: assignments, previous: centroids, distances: distances)
        if converged || iterations >= configuration.maxIterations { stage = .finished }
    }
}

extension KMeansFit {
    private static let magic = "quadcat-kmeans-fit-v1"

    /// The fit's state as bytes (``init(archive:configuration:)`` resumes it), for a merge that runs in
    /// another process than the one before it.
    public func archived() -> Data {
        var out = ArchiveWriter(magic: Self.magic)
        out.int(stage.rawValue)
        out.int(k)
        out.words(random.state)
        out.ints(chosen)
        out.ints(labels)
        out.floats(nearest)
        out.int(round)
        out.ints(drawn)
        out.int(centroids.rows)
        out.int(centroids.columns)
        out.floats(centroids.values)
        out.ints(assignments)
        out.double(inertia)
        out.int(iterations)
        return out.data
    }

    /// Resumes an ``archived()`` fit made with the same `configuration`.
    public init(archive: Data, configuration: KMeans, what: String) throws {
        var input = try ArchiveReader(archive, magic: Self.magic, what: what)
        guard let stage = Stage(rawValue: try input.int()) else { throw SelectorError("\(what) holds an unknown stage") }
        self.configuration = configuration
        self.stage = stage
        k = try input.int()
        let words = try input.words()
        guard words.count == 4 else { throw SelectorError("\(what) holds a damaged random state") }
        random = SeededRandom(state: words)
        chosen = try input.ints()
        labels = try input.ints()
        nearest = try input.floats()
        round = try input.int()
        drawn = try input.ints()
        let (rows, columns) = (try input.int(), try input.int())
        let values = try input.floats()
        guard rows >= 0, columns >= 0, values.count == rows * columns else { throw SelectorError("\(what) holds damaged centroids") }
        centroids = Matrix(rows: rows, columns: columns, values: values)
        assignments = try input.ints()
        inertia = try input.double()
        iterations = try input.int()
    }
}
