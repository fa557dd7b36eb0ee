// Tests of the frame codec and protocol helpers: incremental decoding across every split,
// limits checked before allocation, encoding, envelope parsing and error-code mapping.
#include "ipc/frame_codec.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "ipc/protocol.h"

namespace gemmad::ipc {
namespace {

// Frames built by hand (not by the encoder under test): header bytes spelled out.
std::string raw_frame(const std::string& payload) {
  const auto n = static_cast<std::uint32_t>(payload.size());
  std::string frame;
  frame.push_back(static_cast<char>(n >> 24));
  frame.push_back(static_cast<char>((n >> 16) & 0xff));
  frame.push_back(static_cast<char>((n >> 8) & 0xff));
  frame.push_back(static_cast<char>(n & 0xff));
  return frame + payload;
}

std::vector<std::string> sample_payloads() {
  std::mt19937 rng(7);
  std::string big(300, '\0');
  for (char& c : big)
    c = static_cast<char>(rng());
  return {"", "a", big, std::string("\0\0\0\x05", 4)};
}

std::vector<std::string> drain(FrameDecoder& decoder) {
  std::vector<std::string> frames;
  while (auto frame = decoder.next_frame())
    frames.push_back(std::move(*frame));
  return frames;
}

TEST(FrameDecoder, DecodesTheSameFramesWhateverByteBoundaryTheStreamIsSplitAt) {
  const std::vector<std::string> payloads = sample_payloads();
  std::string stream;
  for (const auto& p : payloads)
    stream += raw_frame(p);
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    FrameDecoder decoder;
    ASSERT_TRUE(decoder.feed(std::string_view(stream).substr(0, cut)).ok());
    ASSERT_TRUE(decoder.feed(std::string_view(stream).substr(cut)).ok());
    EXPECT_EQ(drain(decoder), payloads) << "cut at byte " << cut;
    EXPECT_FALSE(decoder.mid_frame());
    EXPECT_EQ(decoder.buffered_bytes(), 0u);
  }
}

TEST(FrameDecoder, DecodesAStreamFedOneByteAtATime) {
  const std::vector<std::string> payloads = sample_payloads();
  std::string stream;
  for (const auto& p : payloads)
    stream += raw_frame(p);
  FrameDecoder decoder;
  std::vector<std::string> frames;
  for (char c : stream) {
    ASSERT_TRUE(decoder.feed(std::string_view(&c, 1)).ok());
    for (auto& f : drain(decoder))
      frames.push_back(std::move(f));
  }
  EXPECT_EQ(frames, payloads);
}

TEST(FrameDecoder, ReturnsEveryFrameOfOneReadInOrder) {
  FrameDecoder decoder;
  ASSERT_TRUE(decoder.feed(raw_frame("one") + raw_frame("two") + raw_frame("three")).ok());
  EXPECT_EQ(decoder.ready_frames(), 3u);
  EXPECT_EQ(drain(decoder), (std::vector<std::string>{"one", "two", "three"}));
}

TEST(FrameDecoder, HoldsOnlyTheBytesThatArrivedOfAPartialFrame) {
  FrameDecoder decoder;
  std::string head = raw_frame(std::string(1'000'000, 'x')).substr(0, 4 + 10);
  ASSERT_TRUE(decoder.feed(head).ok());
  EXPECT_TRUE(decoder.mid_frame());
  EXPECT_EQ(decoder.buffered_bytes(), 10u);
  EXPECT_EQ(decoder.ready_frames(), 0u);
}

TEST(FrameDecoder, RejectsALengthOverTheLimitNamingTheLengthAndTheLimit) {
  FrameDecoder decoder(100);
  Status status = decoder.feed(raw_frame(std::string(101, 'x')));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kOutOfRange);
  EXPECT_NE(status.error().message.find("101"), std::string::npos) << status.error().message;
  EXPECT_NE(status.error().message.find("100"), std::string::npos) << status.error().message;
  EXPECT_TRUE(decoder.failed());
  // The stream lost sync: later bytes, even a valid frame, keep failing.
  EXPECT_FALSE(decoder.feed(raw_frame("ok")).ok());
  EXPECT_EQ(decoder.ready_frames(), 0u);
}

TEST(FrameDecoder, RejectsA2GiBLengthPrefixBeforeHoldingAnyPayload) {
  FrameDecoder decoder;  // default 4 MiB limit
  const std::string header("\x80\x00\x00\x00", 4);
  Status status = decoder.feed(header + std::string(64, 'y'));
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("2147483648"), std::string::npos);
  EXPECT_NE(status.error().message.find("4194304"), std::string::npos);
  EXPECT_EQ(decoder.buffered_bytes(), 0u);
}

TEST(FrameDecoder, RejectsTheLargestLengthPrefix) {
  FrameDecoder decoder;
  EXPECT_FALSE(decoder.feed(std::string("\xff\xff\xff\xff", 4)).ok());
}

TEST(FrameDecoder, AcceptsAFrameExactlyAtTheLimit) {
  FrameDecoder decoder(100);
  ASSERT_TRUE(decoder.feed(raw_frame(std::string(100, 'z'))).ok());
  EXPECT_EQ(drain(decoder), std::vector<std::string>{std::string(100, 'z')});
}

TEST(FrameDecoder, DeliversFramesCompletedBeforeAnOversizeHeader) {
  FrameDecoder decoder(10);
  EXPECT_FALSE(decoder.feed(raw_frame("fine") + raw_frame(std::string(11, 'x'))).ok());
  EXPECT_EQ(drain(decoder), std::vector<std::string>{"fine"});
}

TEST(FrameDecoder, AZeroLengthFrameIsAnAllDefaultMessage) {
  FrameDecoder decoder;
  ASSERT_TRUE(decoder.feed(raw_frame("")).ok());
  auto frame = decoder.next_frame();
  ASSERT_TRUE(frame.has_value());
  auto message = parse_client_message(*frame);
  ASSERT_TRUE(message.ok());
  EXPECT_EQ(message->body_case(), v1::ClientMessage::BODY_NOT_SET);
  EXPECT_EQ(message->request_id(), 0u);
}

TEST(EncodeFrame, WritesABigEndianLengthBeforeThePayload) {
  auto frame = encode_frame(std::string(258, 'q'));
  ASSERT_TRUE(frame.ok());
  ASSERT_EQ(frame->size(), 4u + 258u);
  EXPECT_EQ(frame->substr(0, 4), std::string("\x00\x00\x01\x02", 4));
  EXPECT_EQ(frame->substr(4), std::string(258, 'q'));
}

TEST(EncodeFrame, RefusesAPayloadOverTheLimit) {
  auto frame = encode_frame(std::string(11, 'q'), 10);
  ASSERT_FALSE(frame.ok());
  EXPECT_EQ(frame.error().code, ErrorCode::kOutOfRange);
  EXPECT_NE(frame.error().message.find("11"), std::string::npos);
}

TEST(EncodeMessageFrame, RoundTripsAClientMessageThroughTheDecoder) {
  v1::ClientMessage message;
  message.set_request_id(42);
  message.mutable_chat()->set_user_text("Why is the sky blue?");
  message.mutable_chat()->mutable_sampling()->set_temperature(0.0f);
  auto frame = encode_message_frame(message);
  ASSERT_TRUE(frame.ok());
  FrameDecoder decoder;
  ASSERT_TRUE(decoder.feed(*frame).ok());
  auto payload = decoder.next_frame();
  ASSERT_TRUE(payload.has_value());
  auto parsed = parse_client_message(*payload);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->request_id(), 42u);
  EXPECT_EQ(parsed->chat().user_text(), "Why is the sky blue?");
  // proto3 optional: an explicit 0 (greedy) is distinguishable from "unset".
  EXPECT_TRUE(parsed->chat().sampling().has_temperature());
  EXPECT_FALSE(parsed->chat().sampling().has_top_k());
}

TEST(EncodeMessageFrame, RefusesAMessageOverTheLimitNamingItsType) {
  v1::ServerMessage message;
  message.mutable_session_export()->set_content(std::string(2000, 'x'));
  auto frame = encode_message_frame(message, 1024);
  ASSERT_FALSE(frame.ok());
  EXPECT_EQ(frame.error().code, ErrorCode::kOutOfRange);
  EXPECT_NE(frame.error().message.find("gemmad.v1.ServerMessage"), std::string::npos);
  EXPECT_NE(frame.error().message.find("1024"), std::string::npos);
}

TEST(ParseClientMessage, RejectsBytesThatAreNotAMessageNamingTheSize) {
  auto parsed = parse_client_message(std::string("\xff\xff\xff", 3));
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(parsed.error().message.find("3 bytes"), std::string::npos);
}

TEST(ErrorCodes, EveryEngineCodeMapsToAWireCodeThatMapsBackExceptIo) {
  const ErrorCode codes[] = {
      ErrorCode::kInvalidArgument,  ErrorCode::kBadModelFile, ErrorCode::kNotFound,
      ErrorCode::kOutOfRange,       ErrorCode::kUnsupported,  ErrorCode::kResourceExhausted,
      ErrorCode::kPermissionDenied, ErrorCode::kCancelled,    ErrorCode::kInternal};
  for (ErrorCode code : codes) {
    EXPECT_EQ(from_wire_error_code(to_wire_error_code(code)), code) << error_code_name(code);
  }
  EXPECT_EQ(to_wire_error_code(ErrorCode::kIo), v1::ERROR_CODE_INTERNAL);
  EXPECT_EQ(to_wire_error_code(ErrorCode::kResourceExhausted), v1::ERROR_CODE_BUSY);
  EXPECT_EQ(from_wire_error_code(v1::ERROR_CODE_PROTOCOL), ErrorCode::kInvalidArgument);
  EXPECT_EQ(from_wire_error_code(static_cast<v1::ErrorCode>(999)), ErrorCode::kInternal);
}

TEST(BodyName, NamesTheMessageTypeOfEachCase) {
  EXPECT_STREQ(body_name(v1::ClientMessage::kHello), "Hello");
  EXPECT_STREQ(body_name(v1::ClientMessage::kStatus), "StatusRequest");
  EXPECT_STREQ(body_name(v1::ServerMessage::kDone), "Done");
}

}  // namespace
}  // namespace gemmad::ipc
