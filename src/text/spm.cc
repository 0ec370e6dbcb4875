// spm.cc: the only C++ file. A thin extern "C" layer over SentencePiece that
// never lets an exception cross into C: each entry point is wrapped in
// try/catch and reports failures as status codes with a message.
#include "config.h"

#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include "base/common.h"
#include "text/spm.h"

struct ss__spm {
    sentencepiece::SentencePieceProcessor proc;
    std::string bytes;
};

#define SPM_TRY try {
#define SPM_CATCH                                                               \
    }                                                                           \
    catch (const std::bad_alloc &) {                                            \
        return ss__fail(SS_ERR_NOMEM, "SentencePiece: out of memory");          \
    }                                                                           \
    catch (const std::exception &e) {                                           \
        return ss__fail(SS_ERR_TOKENIZER, "SentencePiece: %s", e.what());       \
    }                                                                           \
    catch (...) {                                                               \
        return ss__fail(SS_ERR_TOKENIZER, "SentencePiece: unknown exception");  \
    }

static int status_fail(const sentencepiece::util::Status &st, const char *what)
{
    return ss__fail(SS_ERR_TOKENIZER, "SentencePiece %s: %s", what, st.ToString().c_str());
}

extern "C" int ss__spm_load(const void *bytes, size_t len, ss__spm **out)
{
    *out = nullptr;
    SPM_TRY
    if (!bytes || len == 0) return ss__fail(SS_ERR_FORMAT, "empty tokenizer model");
    // unique_ptr: SentencePiece may throw while parsing (found by fuzzing)
    std::unique_ptr<ss__spm> p(new ss__spm);
    p->bytes.assign(static_cast<const char *>(bytes), len);
    auto st = p->proc.LoadFromSerializedProto(p->bytes);
    if (!st.ok())
        return ss__fail(SS_ERR_FORMAT, "not a valid SentencePiece model: %s", st.ToString().c_str());
    *out = p.release();
    return SS_OK;
    SPM_CATCH
}

extern "C" void ss__spm_free(ss__spm *p)
{
    try {
        delete p;
    } catch (...) {
    }
}

extern "C" const void *ss__spm_bytes(const ss__spm *p, size_t *len)
{
    *len = p->bytes.size();
    return p->bytes.data();
}

extern "C" int ss__spm_vocab_size(const ss__spm *p) { return p->proc.GetPieceSize(); }
extern "C" int ss__spm_pad_id(const ss__spm *p) { return p->proc.pad_id(); }
extern "C" int ss__spm_unk_id(const ss__spm *p) { return p->proc.unk_id(); }
extern "C" int ss__spm_bos_id(const ss__spm *p) { return p->proc.bos_id(); }
extern "C" int ss__spm_eos_id(const ss__spm *p) { return p->proc.eos_id(); }

extern "C" const char *ss__spm_id_to_piece(const ss__spm *p, int id)
{
    if (id < 0 || id >= p->proc.GetPieceSize()) return nullptr;
    try {
        return p->proc.IdToPiece(id).c_str();
    } catch (...) {
        return nullptr;
    }
}

extern "C" int ss__spm_piece_to_id(const ss__spm *p, const char *piece)
{
    try {
        return p->proc.PieceToId(piece);
    } catch (...) {
        return p->proc.unk_id();
    }
}

extern "C" int ss__spm_encode(const ss__spm *p, const char *text, size_t len, int32_t **ids,
                              size_t *n)
{
    *ids = nullptr;
    *n = 0;
    SPM_TRY
    std::vector<int> v;
    auto st = p->proc.Encode(absl::string_view(text, len), &v);
    if (!st.ok()) return status_fail(st, "encode");
    int32_t *r = static_cast<int32_t *>(ss__malloc(v.size() * sizeof(int32_t)));
    if (!r) return ss__fail(SS_ERR_NOMEM, "out of memory encoding %zu bytes", len);
    for (size_t i = 0; i < v.size(); i++) r[i] = v[i];
    *ids = r;
    *n = v.size();
    return SS_OK;
    SPM_CATCH
}

extern "C" int ss__spm_encode_pieces(const ss__spm *p, const char *text, size_t len,
                                     char ***pieces, size_t *n)
{
    *pieces = nullptr;
    *n = 0;
    SPM_TRY
    std::vector<std::string> v;
    auto st = p->proc.Encode(absl::string_view(text, len), &v);
    if (!st.ok()) return status_fail(st, "encode");
    // One block: the pointer array, then the strings.
    size_t bytes = (v.size() + 1) * sizeof(char *);
    for (const auto &s : v) bytes += s.size() + 1;
    char **r = static_cast<char **>(ss__malloc(bytes));
    if (!r) return ss__fail(SS_ERR_NOMEM, "out of memory encoding %zu bytes", len);
    char *q = reinterpret_cast<char *>(r + v.size() + 1);
    for (size_t i = 0; i < v.size(); i++) {
        r[i] = q;
        memcpy(q, v[i].data(), v[i].size());
        q[v[i].size()] = '\0';
        q += v[i].size() + 1;
    }
    r[v.size()] = nullptr;
    *pieces = r;
    *n = v.size();
    return SS_OK;
    SPM_CATCH
}

extern "C" int ss__spm_decode(const ss__spm *p, const int32_t *ids, size_t n, char **text)
{
    *text = nullptr;
    SPM_TRY
    std::vector<int> v(ids, ids + n);
    int size = p->proc.GetPieceSize();
    for (size_t i = 0; i < n; i++)
        if (v[i] < 0 || v[i] >= size)
            return ss__fail(SS_ERR_RANGE, "token id %d out of range [0,%d)", v[i], size);
    std::string s;
    auto st = p->proc.Decode(v, &s);
    if (!st.ok()) return status_fail(st, "decode");
    char *r = ss__strndup(s.data(), s.size());
    if (!r) return ss__fail(SS_ERR_NOMEM, "out of memory decoding");
    *text = r;
    return SS_OK;
    SPM_CATCH
}

namespace {
// Feeds SentencePiece's trainer from a C callback.
class CallbackIterator : public sentencepiece::SentenceIterator {
  public:
    CallbackIterator(ss__spm_next_fn next, void *ctx) : next_(next), ctx_(ctx) { Next(); }
    bool done() const override { return done_; }
    void Next() override
    {
        const char *s = nullptr;
        size_t len = 0;
        int r = next_(ctx_, &s, &len);
        if (r == 1) {
            value_.assign(s, len);
        } else {
            done_ = true;
            if (r < 0) {
                failed_ = -r;
                status_ = sentencepiece::util::Status(sentencepiece::util::StatusCode::kInternal,
                                                      ss_errmsg());
            }
        }
    }
    const std::string &value() const override { return value_; }
    sentencepiece::util::Status status() const override { return status_; }
    int failed() const { return failed_; }

  private:
    ss__spm_next_fn next_;
    void *ctx_;
    std::string value_;
    bool done_ = false;
    int failed_ = 0;
    sentencepiece::util::Status status_;
};
} // namespace

extern "C" int ss__spm_train(const ss__spm_train_args *a, ss__spm_next_fn next, void *ctx,
                             char **model, size_t *model_len)
{
    *model = nullptr;
    *model_len = 0;
    SPM_TRY
    std::unordered_map<std::string, std::string> kw = {
        {"model_type", a->bpe ? "bpe" : "unigram"},
        {"vocab_size", std::to_string(a->vocab_size)},
        {"character_coverage", std::to_string(a->character_coverage)},
        {"input_sentence_size", std::to_string(a->input_sentence_size)},
        {"shuffle_input_sentence", "true"},
        {"num_threads", std::to_string(a->threads > 0 ? a->threads : 1)},
        // utf8proc has already normalized the text (NFKC). Case folding, when
        // asked for, is SentencePiece's own rule, so the model file carries it
        // and every user of the model folds case the same way.
        {"normalization_rule_name", a->casefold ? "nmt_nfkc_cf" : "identity"},
        {"pad_id", "0"},
        {"unk_id", "1"},
        {"bos_id", "2"},
        {"eos_id", "3"},
        {"pad_piece", "[PAD]"},
        {"unk_piece", "[UNK]"},
        {"bos_piece", "[CLS]"},
        {"eos_piece", "[SEP]"},
        {"max_sentence_length", "8192"},
        {"train_extremely_large_corpus", "false"},
        {"hard_vocab_limit", "false"},
        {"minloglevel", "1"},
    };
    sentencepiece::SetRandomGeneratorSeed(static_cast<unsigned>(a->seed));
    CallbackIterator it(next, ctx);
    std::string proto;
    auto st = sentencepiece::SentencePieceTrainer::Train(kw, &it, &proto);
    if (it.failed()) return it.failed(); // the reader's own message stays
    if (!st.ok()) return status_fail(st, "training");
    char *r = static_cast<char *>(ss__malloc(proto.size()));
    if (!r) return ss__fail(SS_ERR_NOMEM, "out of memory");
    memcpy(r, proto.data(), proto.size());
    *model = r;
    *model_len = proto.size();
    return SS_OK;
    SPM_CATCH
}
