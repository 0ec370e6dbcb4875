/* loss.h: in-batch contrastive losses over L2-normalized embeddings. */
#ifndef SS_LOSS_H
#define SS_LOSS_H

/* InfoNCE with in-batch negatives: logits = a b^T / temp (B,B), a[i] and b[i]
 * are positives. Loss = mean_i CE(row i, i), and when symmetric the average
 * of that and mean_j CE(column j, j). work (3,B,B) keeps what backward needs.
 * Returns the loss (NaN if an input is not finite). */
double ss__infonce_forward(float *work, const float *a, const float *b, int B, int C,
                           float temp, int symmetric);
/* da, db (B,C) = gradient of the loss of the last forward on the same work. */
void ss__infonce_backward(float *da, float *db, float *work, const float *a, const float *b,
                          int B, int C, float temp, int symmetric);

/* The same with hard negatives: b holds N >= B rows, b[0..B) the positives
 * of a[0..B), b[B..N) further negatives of every a. Rows are a -> b over all N
 * columns; the symmetric part b[j] -> a covers the first B columns only.
 * work (3,B,N); db is (N,C). */
double ss__infonce_neg_forward(float *work, const float *a, const float *b, int B, int N, int C, float temp,
                               int symmetric);
void ss__infonce_neg_backward(float *da, float *db, float *work, const float *a, const float *b, int B, int N,
                              int C, float temp, int symmetric);

#endif
