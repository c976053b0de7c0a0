import CKernels
import Foundation
import Selectors
import Testing

/// k-means at GEMM speed (issue 23): the blocked SGEMM assignment against brute force, and k-means|| seeding.
@Suite("k-means")
struct KMeansTests {
    static func randomMatrix(_ rows: Int, _ columns: Int, seed: UInt64, scale: Float = 1) -> Matrix {
        var random = SeededRandom(seed: seed)
        return Matrix(rows: rows, columns: columns, values: (0..<rows * columns).map { _ in Float(random.nextGaussian()) * scale })
    }

    /// Greedy k-means++ as written before its trials were screened: every (row, trial) distance as
    /// `max(0, |x|^2 - 2 x.c + |c|^2)` from the one-row dot product, the same draws, the same sums.
    static func referenceGreedySeeds(_ data: Matrix, k: Int, seed: UInt64) -> [Float] {
        let n = data.rows, dim = data.columns, trials = 2 + Int(log(Double(k)))
        var norms = [Float](repeating: 0, count: n)
        qc_row_norms_f32(data.values, n, dim, &norms)
        norms = norms.map { $0 * $0 }
        func distance(_ i: Int, _ c: Int) -> Float {
            var p: Float = 0
            data.values.withUnsafeBufferPointer { x in qc_dot_rows_vectors(x.baseAddress! + i * dim, 1, dim, x.baseAddress! + c * dim, 1, &p) }
            return max(0, norms[i] - 2 * p + norms[c])
        }
        var random = SeededRandom(seed: seed)
        var chosen = [random.nextInt(below: n)]
        var nearest = (0..<n).map { distance($0, chosen[0]) }
        let parts = stride(from: 0, to: n, by: 8192).map { $0..<min(n, $0 + 8192) }
        while chosen.count < k {
            var cumulative = [Double](repeating: 0, count: n)
            var total = 0.0
            for i in 0..<n { total += Double(nearest[i]); cumulative[i] = total }
            guard total > 0 else { break }
            let candidates = (0..<trials).map { _ -> Int in
                let target = random.nextUnitDouble() * total
                return cumulative.firstIndex { $0 > target } ?? n - 1
            }
            let values = (0..<n).map { i in candidates.map { min(nearest[i], distance(i, $0)) } }
            var best = 0, bestTotal = Double.infinity
            for t in 0..<trials {
                let potential = parts.reduce(0.0) { sum, part in sum + part.reduce(0.0) { $0 + Double(values[$1][t]) } }
                if potential < bestTotal { bestTotal = potential; best = t }
            }
            chosen.append(candidates[best])
            nearest = (0..<n).map { values[$0][best] }
        }
        return data.rows(chosen).values
    }

    /// Wide and many enough rows for both screens (principal coordinates, then float16), low-rank with
    /// noise and with repeated rows (nearest distances of 0): the seeds are the plain computation's, bit
    /// for bit.
    @Test func screenedGreedySeedingGivesThePlainSeeds() {
        let n = 2600, dim = 136, rank = 12
        let basis = Self.randomMatrix(rank, dim, seed: 21)
        let weights = Self.randomMatrix(n, rank, seed: 22)
        var data = weights.multiplied(by: basis)
        let noise = Self.randomMatrix(n, dim, seed: 23, scale: 0.05)
        for e in data.values.indices { data.values[e] += noise.values[e] }
        for i in stride(from: 0, to: n, by: 13) { for j in 0..<dim { data.values[(i + 1) % n * dim + j] = data.values[i * dim + j] } }
        let kmeans = KMeans(clusters: 40, seed: 5, maxIterations: 0, seeding: .greedyPlusPlus)
        #expect(kmeans.seed(data).values.map(\.bitPattern) == Self.referenceGreedySeeds(data, k: 40, seed: 5).map(\.bitPattern))
    }

    /// The reference: every centroid scanned with the one-row dot product, ties to the lower index.
    static func referenceScan(_ data: Matrix, _ centroids: Matrix) -> [Int] {
        (0..<data.rows).map { i in
            var best = 0
            var bestDistance = Float.infinity
            data.values.withUnsafeBufferPointer { x in
                centroids.values.withUnsafeBufferPointer { c in
                    for j in 0..<centroids.rows {
                        var p: Float = 0
                        qc_dot_rows_vectors(x.baseAddress! + i * data.columns, 1, data.columns, c.baseAddress! + j * data.columns, 1, &p)
                        var norm: Float = 0
                        qc_row_norms_f32(c.baseAddress! + j * data.columns, 1, data.columns, &norm)
                        let d = norm * norm - 2 * p
                        if d < bestDistance { bestDistance = d; best = j }
                    }
                }
            }
            return best
        }
    }

    /// Squared distance in double precision.
    static func distance(_ data: Matrix, _ i: Int, _ centroids: Matrix, _ j: Int) -> Double {
        (0..<data.columns).reduce(0.0) { $0 + pow(Double(data[i, $1]) - Double(centroids[j, $1]), 2) }
    }

    @Test(arguments: [(700, 3, 1), (700, 16, 5), (900, 37, 300), (700, 24, 3000)])
    func theGEMMAssignmentIsABruteForceScan(shape: (Int, Int, Int)) {
        let (n, d, k) = shape
        let data = Self.randomMatrix(n, d, seed: UInt64(n + d + k))
        let centroids = Self.randomMatrix(k, d, seed: UInt64(k), scale: 0.8)
        let (labels, distances) = NearestCentroids(centroids).assign(data)
        #expect(labels == Self.referenceScan(data, centroids))
        var objective = 0.0, bruteObjective = 0.0
        for i in 0..<n {
            let all = (0..<k).map { Self.distance(data, i, centroids, $0) }
            let best = all.min()!
            // Same label as the double-precision brute force unless two centroids tie within float rounding.
            if all[labels[i]] > best * (1 + 1e-5) + 1e-6 { Issue.record("row \(i): \(all[labels[i]]) against \(best)") }
            #expect(abs(Double(distances[i]) - all[labels[i]]) <= 1e-4 * max(1, all[labels[i]]))
            objective += Double(distances[i])
            bruteObjective += best
        }
        #expect(abs(objective - bruteObjective) <= 1e-5 * bruteObjective)
    }

    @Test func aRowsClusterDoesNotDependOnTheBlockItCameIn() {
        let data = Self.randomMatrix(1500, 20, seed: 4)
        let centroids = Self.randomMatrix(2500, 20, seed: 5)  // blocks of 838 rows: two GEMMs
        let nearest = NearestCentroids(centroids)
        let whole = nearest.assign(data)
        for size in [1, 7, 64, 1000] {
            var labels: [Int] = [], distances: [Float] = []
            for first in stride(from: 0, to: data.rows, by: size) {
                let part = nearest.assign(data.rows(Array(first..<min(data.rows, first + size))))
                labels += part.labels
                distances += part.distances
            }
            #expect(labels == whole.labels, "blocks of \(size)")
            #expect(distances.map(\.bitPattern) == whole.distances.map(\.bitPattern), "blocks of \(size)")
        }
    }

    @Test func tiesGoToTheLowerCentroid() {
        let centroids = Matrix(rowVectors: [[1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 1, 0]])
        let data = Matrix(rowVectors: [[1, 0, 0], [0, 1, 0], [0.5, 0.5, 0], [2, 0, 0], [0, 0, 0]])
        let (labels, distances) = NearestCentroids(centroids).assign(data)
        #expect(labels == [0, 1, 0, 0, 0])
        #expect(distances[0] == 0 && distances[1] == 0 && distances[3] == 1)
    }

    static func blobs(_ count: Int, perBlob: Int, seed: UInt64) -> (Matrix, [Int]) {
        var random = SeededRandom(seed: seed)
        let centers = (0..<count).map { _ in (0..<8).map { _ in Float(random.nextGaussian()) * 10 } }
        var rows: [[Float]] = [], truth: [Int] = []
        for i in 0..<count * perBlob {
            rows.append(centers[i % count].map { $0 + Float(random.nextGaussian()) * 0.3 })
            truth.append(i % count)
        }
        return (Matrix(rowVectors: rows), truth)
    }

    @Test func kMeansParallelSeedingRecoversSeparatedBlobsDeterministically() {
        let (data, truth) = Self.blobs(12, perBlob: 60, seed: 9)
        let kmeans = KMeans(clusters: 12, seed: 3, seeding: .parallel(rounds: 5, oversampling: 2))
        let result = kmeans.fit(data)
        var clusterOf: [Int: Int] = [:]
        for (row, label) in result.assignments.enumerated() {
            if let known = clusterOf[truth[row]] { #expect(known == label, "row \(row)") } else { clusterOf[truth[row]] = label }
        }
        #expect(Set(clusterOf.values).count == 12)
        #expect(kmeans.fit(data).centroids.values == result.centroids.values)
        // Lloyd's result is a fixed point of the exact assignment.
        #expect(NearestCentroids(result.centroids).assign(data).labels == result.assignments)
    }

    @Test func kMeansParallelFallsBackWhenItDrawsTooFewRows() {
        // Four distinct rows repeated: k-means|| cannot draw more than 4 candidates for k = 4.
        let data = Matrix(rowVectors: (0..<40).map { i in [Float(i % 4), Float(i % 4 * i % 4), 1] })
        let result = KMeans(clusters: 4, seed: 1, seeding: .parallel(rounds: 3, oversampling: 0.5)).fit(data)
        #expect(result.inertia < 1e-3)  // float rounding of x^2 - 2 x.c + c^2 only; a wrong split costs at least 1
    }

    /// A shard set answers each pass of the fit in pieces (a shard's sample rows each), and each merge
    /// runs in its own process: the fit resumed from its archive after every pass, its passes answered
    /// piece by piece, is the local fit bit for bit.
    @Test(arguments: [1, 3, 7])
    func aFitAnsweredInPiecesAndResumedFromItsArchiveIsTheLocalFit(pieces: Int) throws {
        let (data, _) = Self.blobs(20, perBlob: 40, seed: 4)
        let kmeans = KMeans(clusters: 25, seed: 11, maxIterations: 20, seeding: .parallel(rounds: 5, oversampling: 0.5))
        let local = kmeans.fit(data)
        var fit = KMeansFit(kmeans, data: data)
        var passes = 0
        while let centers = fit.pendingCenters(data) {
            let nearest = NearestCentroids(centers)
            var labels: [Int] = [], distances: [Float] = []
            for piece in 0..<pieces {
                let rows = Array(piece * data.rows / pieces..<(piece + 1) * data.rows / pieces)
                let answer = nearest.assign(data.rows(rows))
                labels += answer.labels
                distances += answer.distances
            }
            fit.receive(labels: labels, distances: distances, data: data)
            fit = try KMeansFit(archive: fit.archived(), configuration: kmeans, what: "the test's archive")
            passes += 1
        }
        #expect(fit.isFinished)
        #expect(fit.centroids.values == local.centroids.values)
        #expect(fit.iterations == local.iterations)
        #expect(passes > local.iterations + 1)  // the k-means|| rounds came first
    }

    @Test func aDamagedFitArchiveIsRefused() {
        let (data, _) = Self.blobs(4, perBlob: 10, seed: 1)
        let kmeans = KMeans(clusters: 4, seed: 2, seeding: .parallel(rounds: 2, oversampling: 1))
        let archive = KMeansFit(kmeans, data: data).archived()
        #expect(throws: SelectorError.self) { try KMeansFit(archive: archive.prefix(archive.count - 5), configuration: kmeans, what: "fit.bin") }
        #expect(throws: SelectorError.self) { try KMeansFit(archive: Data("not a fit".utf8), configuration: kmeans, what: "fit.bin") }
    }
}
