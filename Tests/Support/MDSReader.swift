import Foundation

/// An independent reader of MosaicML streaming's MDS format, written from streaming's reader
/// (`streaming/base/format/mds/reader.py`): index.json, then per shard the u32 offsets table and
/// the samples, columns decoded by their encodings.
public enum MDSReader {
    public enum Value: Equatable {
        case str(String)
        case int(Int64)
        case float64(Double)
    }

    public struct Dataset {
        public var samples: [[String: Value]]
        public var shardCount: Int
        public var index: [String: Any]
    }

    public enum Failure: Error { case malformed(String) }

    public static func read(_ directory: URL) throws -> Dataset {
        let index = try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("index.json"))) as! [String: Any]
        guard index["version"] as? Int == 2, let shards = index["shards"] as? [[String: Any]] else { throw Failure.malformed("index.json") }
        var samples: [[String: Value]] = []
        for shard in shards {
            guard shard["format"] as? String == "mds", shard["version"] as? Int == 2,
                  let names = shard["column_names"] as? [String], let encodings = shard["column_encodings"] as? [String],
                  let sizes = shard["column_sizes"] as? [Any], let raw = shard["raw_data"] as? [String: Any],
                  let basename = raw["basename"] as? String, let count = shard["samples"] as? Int
            else { throw Failure.malformed("shard entry \(shard)") }
            let data = try Data(contentsOf: directory.appendingPathComponent(basename))
            guard raw["bytes"] as? Int == data.count else { throw Failure.malformed("\(basename): size differs from index") }
            func u32(_ at: Int) -> Int { Int(data[at]) | Int(data[at + 1]) << 8 | Int(data[at + 2]) << 16 | Int(data[at + 3]) << 24 }
            guard u32(0) == count else { throw Failure.malformed("\(basename): \(u32(0)) samples, index says \(count)") }
            for i in 0..<count {
                let begin = u32(4 + 4 * i), end = u32(8 + 4 * i)
                var cursor = begin
                var lengths: [Int] = []
                for size in sizes {
                    if let fixed = size as? Int { lengths.append(fixed) } else { lengths.append(u32(cursor)); cursor += 4 }
                }
                var sample: [String: Value] = [:]
                for (c, name) in names.enumerated() {
                    let bytes = data[cursor..<cursor + lengths[c]]
                    switch encodings[c] {
                    case "str": sample[name] = .str(String(decoding: bytes, as: UTF8.self))
                    case "int": sample[name] = .int(bytes.withUnsafeBytes { $0.loadUnaligned(as: Int64.self) })
                    case "float64": sample[name] = .float64(bytes.withUnsafeBytes { $0.loadUnaligned(as: Double.self) })
                    default: throw Failure.malformed("unknown encoding \(encodings[c])")
                    }
                    cursor += lengths[c]
                }
                guard cursor == end else { throw Failure.malformed("\(basename): sample \(i) ends at \(cursor), offsets say \(end)") }
                samples.append(sample)
            }
        }
        return Dataset(samples: samples, shardCount: shards.count, index: index)
    }
}
