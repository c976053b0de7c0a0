import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// A strictly parsed XML document (libxml2 through Foundation's XMLParser): any markup error, an
/// unknown entity or a character XML forbids makes parsing fail. Used to check that the report page
/// is well-formed and to read the figures it holds.
public final class MarkupElement: @unchecked Sendable {
    public let name: String
    public let attributes: [String: String]
    public private(set) var children: [MarkupElement] = []
    /// Text directly inside this element (not inside its children).
    public private(set) var text = ""
    public weak var parent: MarkupElement?

    init(name: String, attributes: [String: String], parent: MarkupElement?) {
        self.name = name
        self.attributes = attributes
        self.parent = parent
    }

    public subscript(attribute: String) -> String? { attributes[attribute] }

    /// This element and all below it, in document order.
    public var descendants: [MarkupElement] { [self] + children.flatMap(\.descendants) }

    /// Text of this element and everything below it.
    public var allText: String { text + children.map(\.allText).joined() }

    public func all(_ name: String) -> [MarkupElement] { descendants.filter { $0.name == name } }

    public func all(where attribute: String, is value: String) -> [MarkupElement] { descendants.filter { $0[attribute] == value } }

    fileprivate func append(_ child: MarkupElement) { children.append(child) }
    fileprivate func appendText(_ string: String) { text += string }

    public struct ParseError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Parses `data`; throws with the parser's line and column when it is not well-formed.
    public static func parse(_ data: Data) throws -> MarkupElement {
        let parser = XMLParser(data: data)
        let builder = TreeBuilder()
        parser.delegate = builder
        parser.shouldResolveExternalEntities = false
        guard parser.parse(), let root = builder.root else {
            throw ParseError(description: "not well-formed at line \(parser.lineNumber), column \(parser.columnNumber): \(parser.parserError.map { "\($0)" } ?? "unknown error")")
        }
        return root
    }
}

private final class TreeBuilder: NSObject, XMLParserDelegate {
    var root: MarkupElement?
    var current: MarkupElement?

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
        let element = MarkupElement(name: name, attributes: attributes, parent: current)
        if let current { current.append(element) } else { root = element }
        current = element
    }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        current = current?.parent
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { current?.appendText(string) }
}
