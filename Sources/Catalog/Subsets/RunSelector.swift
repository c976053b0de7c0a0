import Foundation
import Selectors

/// A selector's parameters as canonical JSON, and the function that runs it on resolved inputs.
struct PreparedSelector {
    var name: String
    var version: String
    /// Parameters with every default filled in, JSON with sorted keys (part of the recipe hash).
    var parametersJSON: String
    var run: (SelectorInputs, Int, (any SelectionGuard)?, SelectionProgressHandler?) throws -> Selection

    /// Checks the `--param` overrides against the selector and fills in its defaults.
    static func prepare(_ kind: SelectorKind, parameters: [String: String], seed: UInt64) throws -> PreparedSelector {
        var bag = ParameterBag(parameters)
        let prepared: PreparedSelector
        do {
        switch kind {
        case .less:
            let p = try LESS.Parameters(&bag, seed: seed)
            prepared = try PreparedSelector(LESS.name, LESS.version, p) { inputs, budget, admission, progress in
                try LESS.select(checkpoints: inputs.checkpoints, targetSubtasks: inputs.targetSubtasks, budget: budget, parameters: p, guard: admission, progress: progress)
            }
        case .gtp:
            let p = try GTP.Parameters(&bag, seed: seed)
            prepared = try PreparedSelector(GTP.name, GTP.version, p) { inputs, budget, admission, progress in
                try GTP.select(checkpoints: inputs.checkpoints, budget: budget, parameters: p, guard: admission, progress: progress)
            }
        case .spice:
            let p = try SPICE.Parameters(&bag, seed: seed)
            prepared = try PreparedSelector(SPICE.name, SPICE.version, p) { inputs, budget, admission, progress in
                try SPICE.select(gradients: inputs.checkpoints[0].pool, budget: budget, parameters: p, guard: admission, progress: progress)
            }
        case .quad:
            let p = try Quad.Parameters(&bag, seed: seed)
            prepared = try PreparedSelector(Quad.name, Quad.version, p) { inputs, budget, admission, progress in
                try Quad.select(
                    gradients: inputs.checkpoints[0].pool, target: inputs.checkpoints[0].target, embeddings: inputs.embeddings!, budget: budget,
                    parameters: p, guard: admission, progress: progress)
            }
        case .dpp:
            let p = try DPP.Parameters(&bag, seed: seed)
            prepared = try PreparedSelector(DPP.name, DPP.version, p) { inputs, budget, admission, progress in
                try DPP.select(checkpoints: inputs.checkpoints, targetSubtasks: inputs.targetSubtasks, budget: budget, parameters: p, guard: admission, progress: progress)
            }
        case .rds:
            let p = try RDS.Parameters(&bag, seed: seed)
            prepared = try PreparedSelector(RDS.name, RDS.version, p) { inputs, budget, admission, progress in
                try RDS.select(embeddings: inputs.embeddings!, target: inputs.targetEmbeddings!, budget: budget, parameters: p, guard: admission, progress: progress)
            }
        case .random:
            let p = try RandomSelector.Parameters(&bag, seed: seed)
            prepared = try PreparedSelector(RandomSelector.name, RandomSelector.version, p) { inputs, budget, admission, progress in
                try RandomSelector.select(rowCount: inputs.rowCount, eligible: inputs.candidates, budget: budget, parameters: p, guard: admission)
            }
        }
            try bag.finish(selector: kind.rawValue)
        } catch let error as SelectorError {
            throw CatalogError(.invalidRequest, error.message, remedy: "see `quadcat select --help` for each selector's parameters")
        }
        return prepared
    }

    init<P: Encodable>(
        _ name: String, _ version: String, _ parameters: P,
        run: @escaping (SelectorInputs, Int, (any SelectionGuard)?, SelectionProgressHandler?) throws -> Selection
    ) throws {
        self.name = name
        self.version = version
        self.parametersJSON = try CanonicalJSON.string(parameters)
        self.run = run
    }
}

/// JSON with sorted keys and no insignificant whitespace: equal values give equal bytes.
enum CanonicalJSON {
    static func string<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
