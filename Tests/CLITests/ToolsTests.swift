import Catalog
import Foundation
import Testing
import TestSupport

/// tools/convert_gradients.py turns LESS and TRAK gradient stores into .npy files that attach reads.
@Suite("Gradient converters")
struct ToolsTests {
    private static func python(_ script: String, _ arguments: [String] = []) -> (status: Int32, output: String) {
        let result = Python.run(script, arguments)
        return (result.status, result.stdout + result.stderr)
    }

    static let hasNumpy = Python.has("numpy")
    static let hasTorch = Python.has("torch")
    private static var converter: String { Fixtures.repository.appendingPathComponent("tools/convert_gradients.py").path }

    @Test(.enabled(if: hasNumpy, "numpy is not installed"))
    func trakStoresConvertAndAttach() throws {
        let dir = TemporaryDirectory("tools")
        try Fixtures.writeCorpus(dir.file("pool.jsonl"), rows: 30)
        let store = dir.file("trak").path
        let make = Self.python("""
            import numpy as np, os, sys
            from numpy.lib.format import open_memmap
            store = sys.argv[1]; os.makedirs(store + "/0")
            g = open_memmap(store + "/0/grads.mmap", mode="w+", dtype=np.float16, shape=(30, 8))
            g[:] = np.arange(240, dtype=np.float16).reshape(30, 8) / 8
            f = open_memmap(store + "/0/_is_featurized.mmap", mode="w+", dtype=np.int32, shape=(30,))
            f[:] = 1; f[[3, 17]] = 0
            g.flush(); f.flush()
            """, [store])
        #expect(make.status == 0, "\(make.output)")
        try Data((0..<30).map { "doc-\($0)\n" }.joined().utf8).write(to: dir.file("ids.txt"))
        let convert = Self.python("import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')", [
            Self.converter, "trak", store, dir.file("g.npy").path, "--ids", dir.file("ids.txt").path, "--ids-out", dir.file("g.ids").path,
        ])
        #expect(convert.status == 0, "\(convert.output)")
        let cat = dir.file("c.quadcat").path
        try QuadcatBinary.run(["init", cat])
        try QuadcatBinary.run(["ingest", cat, dir.file("pool.jsonl").path, "--corpus", "pool"])
        let attach = try QuadcatBinary.run(["attach", cat, "--corpus", "pool", "--column", "g", "--checkpoint", "1", "--lr", "1", "--ids", dir.file("g.ids").path, dir.file("g.npy").path])
        #expect(attach.status == 0, "\(attach.stderr)")
        let column = try Catalog.open(at: URL(fileURLWithPath: cat)).vectors(corpus: "pool", column: "g", checkpoint: 1)
        #expect(column.usableRows?.setCount == 28 && column.usableRows?.contains(3) == false && column.usableRows?.contains(17) == false)
        #expect(try column.gather(rows: [5]).values == (40..<48).map { Float($0) / 8 })
    }

    @Test(.enabled(if: hasTorch, "torch is not installed"))
    func lessChunkFoldersConvertInDataOrder() throws {
        let dir = TemporaryDirectory("tools-less")
        let folder = dir.file("dim8").path
        let make = Self.python("""
            import torch, os, sys
            d = sys.argv[1]; os.makedirs(d)
            rows = torch.arange(40, dtype=torch.float32).reshape(5, 8)
            torch.save(rows[:2].half(), d + "/grads-2.pt"); torch.save(rows[2:4].half(), d + "/grads-4.pt"); torch.save(rows[4:].half(), d + "/grads-5.pt")
            """, [folder])
        #expect(make.status == 0, "\(make.output)")
        let convert = Self.python("import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')", [Self.converter, "less", folder, dir.file("g.npy").path])
        #expect(convert.status == 0, "\(convert.output)")
        let check = Self.python("import numpy as np, sys; a = np.load(sys.argv[1]); assert a.shape == (5, 8) and (a.ravel() == np.arange(40)).all()", [dir.file("g.npy").path])
        #expect(check.status == 0, "\(check.output)")
    }
}
