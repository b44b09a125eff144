package render

import (
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/argodeploy/argodeploy/pkg/mapping"
)

var configMapType = metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}

// CacheEntry is the cache ConfigMap value for one service: the defaulted
// service as JSON (mapping.EncodeEntry), which the rollout step reads.
func CacheEntry(s mapping.Service) string {
	entry, err := mapping.EncodeEntry(s)
	if err != nil {
		panic(fmt.Sprintf("render: cache entry of %s: %v", s.Name, err)) // plain strings and maps always encode
	}
	return entry
}

// cacheConfigMaps packs the services' cache entries into as few ConfigMaps
// as fit under limit bytes each, in mapping order. The WorkflowTemplate
// mounts them all as one directory.
func (p *pipeline) cacheConfigMaps(limit int) ([]Object, error) {
	const overhead = 1024 // metadata and JSON framing of one ConfigMap
	services := p.m.Spec.Services
	sizes := make([]int, len(services))
	for i := range services {
		size, err := jsonSize(services[i].Name, CacheEntry(services[i]))
		if err != nil {
			return nil, err
		}
		sizes[i] = size + 2 // the colon and the comma
	}
	groups, err := pack(sizes, limit-overhead)
	if err != nil {
		return nil, fmt.Errorf("cache ConfigMap: %w", err)
	}
	objs := make([]Object, 0, len(groups))
	for g, members := range groups {
		cm := &corev1.ConfigMap{
			TypeMeta:   configMapType,
			ObjectMeta: p.meta(shardName(p.name+"-cache", g, len(groups)), p.ns),
			Data:       make(map[string]string, len(members)),
		}
		if limit != DefaultShardBytes {
			cm.Annotations = map[string]string{ShardBytesAnnotation: strconv.Itoa(limit)}
		}
		for _, i := range members {
			cm.Data[services[i].Name] = CacheEntry(services[i])
		}
		objs = append(objs, cm)
	}
	return objs, nil
}

// pack splits items, in order, into consecutive groups whose sizes sum to at
// most limit. An item larger than limit is an error.
func pack(sizes []int, limit int) ([][]int, error) {
	var groups [][]int
	var current []int
	total := 0
	for i, size := range sizes {
		if size > limit {
			return nil, fmt.Errorf("item %d needs %d bytes, more than the %d a shard holds", i, size, limit)
		}
		if total+size > limit && len(current) > 0 {
			groups = append(groups, current)
			current, total = nil, 0
		}
		current = append(current, i)
		total += size
	}
	if len(current) > 0 {
		groups = append(groups, current)
	}
	return groups, nil
}
