//! Embeddings grouped into speakers: agglomerative clustering with average linkage on cosine
//! distance (the nearest-neighbour chain algorithm: quadratic time, one distance matrix), the
//! dendrogram cut at a distance threshold or at a known count, then clusters too small to be a
//! speaker given to the nearest large one.
#![forbid(unsafe_code)]

/// Windows a clustering may hold: the distance matrix is `n²/2` floats (6,000 → 72 MB). Longer
/// inputs embed with a longer step (see [`super::plan_windows`]).
pub const MAX_ITEMS: usize = 6_000;

/// Cosine similarity of two unit vectors.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Scales `v` to unit length (a zero vector stays zero).
pub fn normalise(v: &mut [f32]) {
    let n = dot(v, v).sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}

/// Lower-triangular distance matrix.
struct Tri {
    d: Vec<f32>,
}

impl Tri {
    fn idx(i: usize, j: usize) -> usize {
        let (a, b) = if i > j { (i, j) } else { (j, i) };
        a * (a - 1) / 2 + b
    }
    fn get(&self, i: usize, j: usize) -> f32 {
        self.d[Self::idx(i, j)]
    }
    fn set(&mut self, i: usize, j: usize, v: f32) {
        self.d[Self::idx(i, j)] = v;
    }
}

/// The merges of average-linkage clustering, `(a, b, distance)` with a and b indices of the
/// items' clusters at the time (each merge keeps the smaller index), sorted by distance.
fn dendrogram<V: AsRef<[f32]>>(vectors: &[V]) -> Vec<(usize, usize, f32)> {
    let n = vectors.len();
    let mut tri = Tri { d: vec![0.0; n * n.saturating_sub(1) / 2] };
    for i in 1..n {
        for j in 0..i {
            tri.set(i, j, 1.0 - dot(vectors[i].as_ref(), vectors[j].as_ref()));
        }
    }
    let mut size = vec![1usize; n];
    let mut active = vec![true; n];
    let mut merges = Vec::with_capacity(n.saturating_sub(1));
    let mut chain: Vec<usize> = Vec::new();
    let mut remaining = n;
    while remaining > 1 {
        if chain.is_empty() {
            chain.push(active.iter().position(|&a| a).unwrap_or(0));
        }
        let a = chain[chain.len() - 1];
        let prev = chain.len().checked_sub(2).map(|i| chain[i]);
        // The nearest active cluster to a; ties prefer the previous link (so the chain ends).
        let mut best = prev;
        let mut best_d = prev.map_or(f32::INFINITY, |p| tri.get(a, p));
        for k in (0..n).filter(|&k| active[k] && k != a) {
            let d = tri.get(a, k);
            if d < best_d {
                best = Some(k);
                best_d = d;
            }
        }
        let Some(b) = best else { break };
        if Some(b) == prev {
            chain.truncate(chain.len() - 2);
            let (keep, gone) = (a.min(b), a.max(b));
            for k in (0..n).filter(|&k| active[k] && k != a && k != b) {
                let d = (size[a] as f32 * tri.get(a, k) + size[b] as f32 * tri.get(b, k)) / (size[a] + size[b]) as f32;
                tri.set(keep, k, d);
            }
            size[keep] += size[gone];
            active[gone] = false;
            remaining -= 1;
            merges.push((keep, gone, best_d));
        } else {
            chain.push(b);
        }
    }
    // Average linkage has no inversions: merges in order of distance rebuild the same tree.
    merges.sort_by(|x, y| x.2.total_cmp(&y.2));
    merges
}

/// How the number of speakers is decided.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Count {
    /// Clusters closer than this cosine distance are one speaker.
    Threshold(f32),
    /// Exactly this many (fewer if there are fewer items).
    Known(usize),
}

/// A speaker label (0-based, in order of first appearance) for each vector. `weights` (speech
/// per item) decide which clusters are too small: under `min_share` of all speech and under
/// `min_weight`, a cluster is merged into the most similar remaining one.
pub fn cluster<V: AsRef<[f32]>>(
    vectors: &[V],
    weights: &[f32],
    count: Count,
    min_weight: f32,
    min_share: f32,
) -> Vec<usize> {
    let n = vectors.len();
    if n == 0 {
        return Vec::new();
    }
    let merges = dendrogram(vectors);
    let mut parent: Vec<usize> = (0..n).collect();
    fn root(p: &mut [usize], mut i: usize) -> usize {
        while p[i] != i {
            p[i] = p[p[i]];
            i = p[i];
        }
        i
    }
    let take = match count {
        Count::Threshold(t) => merges.iter().take_while(|m| m.2 <= t).count(),
        Count::Known(k) => n.saturating_sub(k.max(1)),
    };
    // Merges name clusters by their smallest member at the time; replaying them in distance
    // order joins the same member sets.
    for &(a, b, _) in &merges[..take] {
        let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
        if ra != rb {
            parent[rb.max(ra)] = rb.min(ra);
        }
    }
    let mut label: Vec<usize> = (0..n).map(|i| root(&mut parent, i)).collect();
    // Small clusters: merged into the most similar large one, by centroid.
    let total: f32 = weights.iter().sum();
    loop {
        let mut groups: std::collections::BTreeMap<usize, (f32, Vec<f32>)> = Default::default();
        for i in 0..n {
            let v = vectors[i].as_ref();
            let g = groups.entry(label[i]).or_insert_with(|| (0.0, vec![0.0; v.len()]));
            g.0 += weights[i];
            g.1.iter_mut().zip(v).for_each(|(c, x)| *c += x);
        }
        if groups.len() <= 1 {
            break;
        }
        let smallest = |only_small: bool| {
            groups
                .iter()
                .filter(|(_, (w, _))| !only_small || (*w < min_weight && *w < min_share * total))
                .min_by(|a, b| a.1.0.total_cmp(&b.1.0))
                .map(|(k, _)| *k)
        };
        // With a known count the user said how many there are: only an excess goes (ties in
        // the dendrogram); otherwise clusters too small to be a speaker go.
        let victim = match count {
            Count::Known(k) if groups.len() > k.max(1) => smallest(false),
            Count::Known(_) => None,
            Count::Threshold(_) => smallest(true),
        };
        let Some(victim) = victim else { break };
        let mut c = groups[&victim].1.clone();
        normalise(&mut c);
        let into = groups
            .iter()
            .filter(|(k, _)| **k != victim)
            .map(|(k, (_, s))| {
                let mut s = s.clone();
                normalise(&mut s);
                (*k, dot(&c, &s))
            })
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(k, _)| k)
            .unwrap_or(victim);
        label.iter_mut().filter(|l| **l == victim).for_each(|l| *l = into);
    }
    // Labels in order of first appearance.
    let mut order: Vec<usize> = Vec::new();
    for l in &label {
        if !order.contains(l) {
            order.push(*l);
        }
    }
    label.iter().map(|l| order.iter().position(|o| o == l).unwrap_or(0)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: &[f32]) -> Vec<f32> {
        let mut v = v.to_vec();
        normalise(&mut v);
        v
    }

    #[test]
    fn separates_two_directions_and_honours_a_known_count() {
        let mut xs = Vec::new();
        for i in 0..10 {
            let e = i as f32 * 0.01;
            xs.push(unit(&[1.0, e, 0.0]));
            xs.push(unit(&[0.0, e, 1.0]));
        }
        let w = vec![1.0; xs.len()];
        let l = cluster(&xs, &w, Count::Threshold(0.5), 0.0, 0.0);
        assert_eq!(l.iter().filter(|&&x| x == 0).count(), 10);
        assert!(l.iter().step_by(2).all(|&x| x == 0) && l.iter().skip(1).step_by(2).all(|&x| x == 1));
        let l = cluster(&xs, &w, Count::Known(1), 0.0, 0.0);
        assert!(l.iter().all(|&x| x == 0));
        let l = cluster(&xs, &w, Count::Known(3), 0.0, 0.0);
        assert_eq!(l.iter().max(), Some(&2));
    }

    #[test]
    fn a_tiny_cluster_joins_its_nearest_neighbour() {
        let mut xs: Vec<Vec<f32>> = (0..8).map(|i| unit(&[1.0, i as f32 * 0.01, 0.0])).collect();
        xs.extend((0..8).map(|i| unit(&[0.0, i as f32 * 0.01, 1.0])));
        xs.push(unit(&[0.2, 1.0, 0.9])); // alone, nearer the second group
        let w = vec![1.0; xs.len()];
        let l = cluster(&xs, &w, Count::Threshold(0.3), 2.0, 0.1);
        assert_eq!(l[16], 1);
        assert_eq!(l.iter().max(), Some(&1));
    }

    #[test]
    fn the_chain_agrees_with_the_naive_algorithm() {
        // Pseudo-random unit vectors; naive average linkage merges the closest pair each time.
        let mut seed = 7u64;
        let mut rnd = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((seed >> 33) as f32 / (1u64 << 31) as f32) - 0.5
        };
        let xs: Vec<Vec<f32>> = (0..25).map(|_| unit(&[rnd(), rnd(), rnd(), rnd()])).collect();
        let got: Vec<f32> = dendrogram(&xs).iter().map(|m| m.2).collect();
        let mut clusters: Vec<Vec<usize>> = (0..xs.len()).map(|i| vec![i]).collect();
        let mut want = Vec::new();
        while clusters.len() > 1 {
            let mut best = (0, 1, f32::INFINITY);
            for a in 0..clusters.len() {
                for b in a + 1..clusters.len() {
                    let mut s = 0.0;
                    for &i in &clusters[a] {
                        for &j in &clusters[b] {
                            s += 1.0 - dot(&xs[i], &xs[j]);
                        }
                    }
                    let d = s / (clusters[a].len() * clusters[b].len()) as f32;
                    if d < best.2 {
                        best = (a, b, d);
                    }
                }
            }
            let gone = clusters.remove(best.1);
            clusters[best.0].extend(gone);
            want.push(best.2);
        }
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 1e-4, "{got:?}\n{want:?}");
        }
    }
}
