import CKernels
import Foundation
import Ingest

/// One input of an ingest, as the reading thread opened it.
struct IngestInputInfo: Sendable {
    var index: Int
    var input: JSONLInput
    var compression: InputCompression
}

/// One block's records, parsed, validated, hashed and encoded as a records chunk on a worker thread.
struct ParsedBlock: Sendable {
    var info: IngestInputInfo
    /// Stored bytes of the input read through this block, for progress.
    var storedBytesRead = 0
    /// Decoded JSONL bytes of the block.
    var decodedBytes = 0
    /// The records' ids, one after another; `idEnds[i]` is where record i's id ends.
    var ids: [UInt8] = []
    var idEnds: [Int] = []
    /// The first 16 bytes of each record's text SHA-256.
    var textHashes: [UInt8] = []
    var lines: [Int] = []
    var byteLengths: [Int] = []
    /// The records' bytes, one after another, when the pipeline keeps them (for indexed fields);
    /// `recordEnds[i]` is where record i ends.
    var records: [UInt8] = []
    var recordEnds: [Int] = []
    /// The records as one chunk (nil when the block holds no record).
    var chunk: EncodedChunk?
    /// What stopped the block after its first `rows` records (an invalid line).
    var error: IngestError?

    var rows: Int { lines.count }
}

/// What the pipeline hands to the consumer, in input order.
enum IngestStep: Sendable {
    case records(ParsedBlock)
    /// An input read to its end: its stored size and xxHash64.
    case inputEnd(IngestInputInfo, storedBytes: Int, hash: UInt64)
    /// The reader could not go on (an unreadable or damaged input).
    case failure(IngestError)
}

/// Ingest as a pipeline over both cores: one thread reads the inputs (decompressing them)
/// and cuts them into blocks of whole lines; worker threads parse, validate and hash the records and
/// encode each block as a compressed chunk; the calling thread writes the chunks and index rows in
/// input order. A bounded number of blocks is in flight, so memory stays bounded whatever the input
/// size, and the result depends on the input only, never on thread timing.
final class IngestPipeline {
    private enum Item: Sendable {
        case block(IngestInputInfo, LineBlock)
        case inputEnd(IngestInputInfo, storedBytes: Int, hash: UInt64)
        case failure(IngestError)
    }

    let inputs: [JSONLInput]
    let options: JSONLOptions
    let codec: CodecPolicy
    let workers: Int
    let engine: RecordParserEngine
    /// Whether blocks carry their records' bytes to the consumer.
    let keepRecords: Bool

    init(inputs: [JSONLInput], options: JSONLOptions, codec: CodecPolicy, workers: Int = ProcessInfo.processInfo.activeProcessorCount,
         engine: RecordParserEngine = .simdjson, keepRecords: Bool = false) {
        self.keepRecords = keepRecords
        self.inputs = inputs
        self.options = options
        self.codec = codec
        self.workers = max(1, workers)
        self.engine = engine
    }

    /// Runs the pipeline, calling `consume` on this thread with every step in input order. An error
    /// thrown by `consume` stops the pipeline (the threads end before `run` returns) and is rethrown.
    func run(_ consume: (IngestStep) throws -> Void) throws {
        let pool = BlockPool()
        let options = self.options, codec = self.codec, engine = self.engine, keepRecords = self.keepRecords
        let stages = OrderedWorkers<Item, IngestStep, BlockParser>(
            workers: workers, capacity: 2 * workers + 2,
            makeState: { BlockParser(options: options, codec: codec, engine: engine, keepRecords: keepRecords) },
            transform: { parser, item in
                switch item {
                case .block(let info, let block):
                    let parsed = parser.parse(block, info)
                    pool.put(block)
                    return .records(parsed)
                case .inputEnd(let info, let bytes, let hash):
                    return .inputEnd(info, storedBytes: bytes, hash: hash)
                case .failure(let error):
                    return .failure(error)
                }
            })
        let reading = DispatchGroup()
        reading.enter()
        let inputs = self.inputs
        let reader = Thread {
            Self.read(inputs, options: options, pool: pool, into: stages)
            reading.leave()
        }
        reader.name = "quadcat-reader"
        reader.start()
        do {
            while let step = stages.next() {
                try consume(step)
            }
        } catch {
            // The reader stops at its next block. It is not waited for: it may be blocked reading a
            // pipe whose writer has gone quiet, and it owns everything it still touches.
            stages.cancel()
            stages.join()
            throw error
        }
        reading.wait()
        stages.join()
    }

    /// The reading thread: every input in order, cut into blocks.
    private static func read(_ inputs: [JSONLInput], options: JSONLOptions, pool: BlockPool, into stages: OrderedWorkers<Item, IngestStep, BlockParser>) {
        defer { stages.finish() }
        for (index, input) in inputs.enumerated() {
            do {
                let lines = try LineBlockReader(input, maxLineBytes: options.maxRecordBytes, limitRemedy: RecordParser.limitRemedy)
                let info = IngestInputInfo(index: index, input: input, compression: lines.compression)
                while true {
                    let block = pool.take()
                    guard try lines.fill(block) else {
                        pool.put(block)
                        break
                    }
                    guard stages.submit(.block(info, block)) else { return }
                }
                guard stages.submit(.inputEnd(info, storedBytes: lines.storedBytesRead, hash: lines.storedHash)) else { return }
            } catch {
                stages.submit(.failure(error))
                return
            }
        }
    }
}

/// Reused line blocks (a block is about 4 MiB; the pipeline's capacity bounds how many exist).
private final class BlockPool: @unchecked Sendable {
    private let lock = NSLock()
    private var free: [LineBlock] = []

    func take() -> LineBlock {
        lock.lock()
        defer { lock.unlock() }
        return free.popLast() ?? LineBlock()
    }

    func put(_ block: LineBlock) {
        lock.lock()
        free.append(block)
        lock.unlock()
    }
}

/// A worker's state: a record parser for the current input, the chunk payload buffer.
final class BlockParser {
    private let options: JSONLOptions
    private let codec: CodecPolicy
    private let engine: RecordParserEngine
    private var parser: RecordParser?
    private var parserInput = -1
    private let payload = RecordPayloadBuilder()
    private var digest = [UInt8](repeating: 0, count: 32)
    private let keepRecords: Bool

    init(options: JSONLOptions, codec: CodecPolicy, engine: RecordParserEngine, keepRecords: Bool = false) {
        self.keepRecords = keepRecords
        self.options = options
        self.codec = codec
        self.engine = engine
    }

    func parse(_ block: LineBlock, _ info: IngestInputInfo) -> ParsedBlock {
        var parsed = ParsedBlock(info: info, storedBytesRead: block.storedBytesRead, decodedBytes: block.count)
        parsed.idEnds.reserveCapacity(block.lineCount)
        parsed.lines.reserveCapacity(block.lineCount)
        parsed.byteLengths.reserveCapacity(block.lineCount)
        parsed.textHashes.reserveCapacity(16 * block.lineCount)
        do throws(IngestError) {
            if parserInput != info.index {
                parser = try RecordParser(options: options, input: info.input, compression: info.compression, engine: engine)
                parserInput = info.index
            }
            let parser = parser!
            payload.reset(maxRows: block.lineCount, maxBytes: block.count)
            try block.forEachLine { (number, line) throws(IngestError) in
                guard let record = try parser.parse(line, number: number) else { return }
                qc_sha256(record.text.baseAddress, record.text.count, &digest)
                parsed.textHashes.append(contentsOf: digest[0..<16])
                parsed.ids.append(contentsOf: record.id)
                parsed.idEnds.append(parsed.ids.count)
                parsed.lines.append(number)
                parsed.byteLengths.append(line.count)
                payload.append(line)
                if keepRecords {
                    parsed.records.append(contentsOf: line)
                    parsed.recordEnds.append(parsed.records.count)
                }
            }
        } catch {
            parsed.error = error
        }
        if parsed.rows > 0 {
            parsed.chunk = EncodedChunk(dtype: .records, dim: 1, rows: parsed.rows, raw: payload.payload(), policy: codec)
        }
        return parsed
    }
}
