import Foundation

/// Writes MosaicML streaming's MDS format (index.json plus shard.NNNNN.mds files) exactly as
/// `streaming.MDSWriter` does, so `StreamingDataset(local=DIR)` reads the export directly.
///
/// Shard layout: u32 sample count, (count + 1) u32 absolute offsets, the writer's config as JSON, then
/// the samples. A sample is a u32 length for each variable-size column, then every column's bytes, with
/// columns in name order. All integers little-endian.
struct MDSWriter {
    enum Encoding: String {
        case str, int, float64

        /// Bytes of a fixed-size encoding, nil for variable-size ones.
        var size: Int? {
            switch self {
            case .str: nil
            case .int, .float64: 8
            }
        }
    }

    enum Value {
        case str([UInt8])
        case int(Int64)
        case float64(Double)
    }

    /// streaming's default `size_limit` (1 << 26 bytes).
    static let defaultSizeLimit = 1 << 26

    let directory: URL
    let columns: [(name: String, encoding: Encoding)]
    let sizeLimit: Int
    private var samples: [[UInt8]] = []
    private var shardSize: Int
    private var shards: [[String: Any]] = []
    private(set) var totalBytes = 0

    init(directory: URL, columns: [String: Encoding], sizeLimit: Int = MDSWriter.defaultSizeLimit) throws {
        self.directory = directory
        self.columns = columns.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        self.sizeLimit = sizeLimit
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        shardSize = 0
        shardSize = Self.emptyShardSize(configBytes: configData.count)
    }

    /// The writer config streaming embeds in each shard: `json.dumps(config, sort_keys=True)`.
    private var config: [String: Any] {
        [
            "column_encodings": columns.map { $0.encoding.rawValue },
            "column_names": columns.map(\.name),
            "column_sizes": columns.map { $0.encoding.size.map { $0 as Any } ?? NSNull() },
            "compression": NSNull(), "format": "mds", "hashes": [String](), "size_limit": sizeLimit, "version": 2,
        ]
    }

    private var configData: [UInt8] { Array(PythonJSON.dumps(config).utf8) }

    private static func emptyShardSize(configBytes: Int) -> Int { 4 + 4 + configBytes }

    /// Appends one sample; `values` maps every column name to its value.
    mutating func write(_ values: [String: Value]) throws {
        var head: [UInt8] = [], body: [UInt8] = []
        for (name, encoding) in columns {
            guard let value = values[name] else { preconditionFailure("missing MDS column \(name)") }
            switch (encoding, value) {
            case (.str, .str(let bytes)):
                appendLittleEndian(UInt32(bytes.count), to: &head)
                body += bytes
            case (.int, .int(let v)): appendLittleEndian(UInt64(bitPattern: v), to: &body)
            case (.float64, .float64(let v)): appendLittleEndian(v.bitPattern, to: &body)
            default: preconditionFailure("MDS column \(name) is \(encoding.rawValue)")
            }
        }
        let sample = head + body
        if !samples.isEmpty && sizeLimit < shardSize + sample.count + 4 { try flush() }
        samples.append(sample)
        shardSize += sample.count + 4
    }

    private mutating func flush() throws {
        guard !samples.isEmpty else { return }
        let config = configData
        var data: [UInt8] = []
        data.reserveCapacity(shardSize)
        appendLittleEndian(UInt32(samples.count), to: &data)
        var offset = 4 + 4 * (samples.count + 1) + config.count
        appendLittleEndian(UInt32(offset), to: &data)
        for sample in samples {
            offset += sample.count
            appendLittleEndian(UInt32(offset), to: &data)
        }
        data += config
        for sample in samples { data += sample }
        let basename = "shard.\(String(format: "%05d", shards.count)).mds"
        try Data(data).write(to: directory.appendingPathComponent(basename), options: .atomic)
        var shard = self.config
        shard["raw_data"] = ["basename": basename, "bytes": data.count, "hashes": [String: Any]()]
        shard["samples"] = samples.count
        shard["zip_data"] = NSNull()
        shards.append(shard)
        totalBytes += data.count
        samples.removeAll()
        shardSize = Self.emptyShardSize(configBytes: config.count)
    }

    /// Writes the last shard and index.json.
    mutating func finish() throws {
        try flush()
        let index = PythonJSON.dumps(["shards": shards, "version": 2])
        try Data(index.utf8).write(to: directory.appendingPathComponent("index.json"), options: .atomic)
        totalBytes += index.utf8.count
    }

    private func appendLittleEndian<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
}

/// `json.dumps(value, sort_keys=True)` as Python writes it: ", " and ": " separators, sorted keys.
enum PythonJSON {
    static func dumps(_ value: Any) -> String {
        switch value {
        case is NSNull: return "null"
        case let i as Int: return String(i)
        case let s as String: return quote(s)
        case let array as [Any]: return "[" + array.map(dumps).joined(separator: ", ") + "]"
        case let object as [String: Any]:
            return "{" + object.keys.sorted().map { quote($0) + ": " + dumps(object[$0]!) }.joined(separator: ", ") + "}"
        default: preconditionFailure("unsupported JSON value \(value)")
        }
    }

    /// Python's default `ensure_ascii=True` string quoting.
    static func quote(_ s: String) -> String {
        var out = "\""
        for unit in s.utf16 {
            switch unit {
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x08: out += "\\b"
            case 0x0C: out += "\\f"
            case 0x20..<0x7F: out += String(UnicodeScalar(UInt8(unit)))
            default: out += String(format: "\\u%04x", unit)
            }
        }
        return out + "\""
    }
}
