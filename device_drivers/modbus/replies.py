"""Why a Modbus reply cannot be decoded, said in the terms of the Modbus specification."""

from __future__ import annotations

# Function codes whose answer is a byte count and that many bytes of data.
_COUNTED_ANSWERS = frozenset({1, 2, 3, 4})
_KNOWN_FUNCTIONS = frozenset({1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 15, 16, 17, 20, 21, 22, 23, 24, 43})


def describe_bad_pdu(pdu: bytes) -> str:
    """Why a reply PDU cannot be decoded, in the terms of the Modbus specification.

    >>> describe_bad_pdu(bytes([4, 20, 0, 1, 0, 2]))
    'function 4 says 20 data bytes, but 4 follow'
    >>> describe_bad_pdu(bytes([0x55, 1]))
    'function 85 is not a Modbus function (2 bytes)'
    """
    if not pdu:
        return "an empty PDU"
    function = pdu[0] & 0x7F
    if function in _COUNTED_ANSWERS and not pdu[0] & 0x80 and len(pdu) >= 2 and pdu[1] != len(pdu) - 2:
        return f"function {function} says {pdu[1]} data bytes, but {len(pdu) - 2} follow"
    if function not in _KNOWN_FUNCTIONS:
        return f"function {function} is not a Modbus function ({len(pdu)} bytes)"
    return f"{len(pdu)} bytes that do not decode as an answer to function {function}"
