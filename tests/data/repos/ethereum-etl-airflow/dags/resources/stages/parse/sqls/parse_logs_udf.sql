CREATE TEMP FUNCTION decode_transfer(data STRING, topics ARRAY<STRING>)
RETURNS STRUCT<sender STRING, recipient STRING, amount STRING>
LANGUAGE js AS """
    var word = function (hex, i) { return hex.substr(2 + 64 * i, 64) }
    var address = function (topic) { return '0x' + topic.substr(26) }
    return {
        sender: address(topics[1]),
        recipient: address(topics[2]),
        amount: BigInt('0x' + word(data, 0)).toString(10)
    }
""";
